-- Alerting: rules (per tenant), the live state of each (rule, series) instance, and the history of every change.
-- Semantics are Prometheus's (docs/alerts.md): inactive → pending → firing → resolved, `for`, `keep_firing_for`.

create table alert_rules (
    id                       text             primary key,
    tenant_id                text             not null,
    name                     text             not null,
    metric                   text             not null,
    matchers                 jsonb            not null default '[]',   -- ["host=web-1", "mountpoint!~/boot.*"]
    aggregation              text             not null,                -- avg | max | min | last | rate
    window_seconds           int              not null,
    op                       text             not null,                -- > >= < <= == !=
    threshold                double precision not null,
    for_seconds              int              not null default 0,
    keep_firing_for_seconds  int              not null default 0,
    severity                 text             not null,                -- critical | warning | info
    labels                   jsonb            not null default '{}',
    annotations              jsonb            not null default '{}',   -- templates: {{ $labels.host }}, {{ $value }}
    enabled                  boolean          not null default true,
    version                  int              not null default 1,
    created_at               timestamptz      not null,
    updated_at               timestamptz      not null,
    unique (tenant_id, name)
);

-- Tenants whose built-in rules were created (once per version of the set: a deleted built-in stays deleted).
create table alert_tenants (
    tenant_id         text        primary key,
    builtins_version  int         not null,
    seeded_at         timestamptz not null
);

-- One row per (rule, series) that is pending or firing; inactive instances have no row.
create table alert_instances (
    rule_id       text             not null,
    fingerprint   text             not null,   -- the series' agent and labels, canonical
    tenant_id     text             not null,
    labels        jsonb            not null,   -- series labels + agent + rule labels
    state         text             not null,   -- pending | firing
    active_at     timestamptz      not null,   -- first true evaluation of this episode
    fired_at      timestamptz,
    last_true_at  timestamptz      not null,
    evaluated_at  timestamptz      not null,
    value         double precision,
    primary key (rule_id, fingerprint)
);
create index alert_instances_tenant on alert_instances (tenant_id, state);

-- Silences: alerts whose labels match every matcher are muted from starts_at to ends_at; expiring sets ends_at to now.
create table alert_silences (
    id          text        primary key,
    tenant_id   text        not null,
    matchers    jsonb       not null,
    starts_at   timestamptz not null,
    ends_at     timestamptz not null,
    created_by  text        not null,
    comment     text        not null,
    created_at  timestamptz not null
);
create index alert_silences_tenant_ends on alert_silences (tenant_id, ends_at);

-- Every state change, kept for the history API (Alertmanager's long-standing ask); deleted with the rule's tenant data
-- by retention only.
create table alert_history (
    id           bigint           generated always as identity primary key,
    tenant_id    text             not null,
    rule_id      text             not null,
    rule_name    text             not null,
    fingerprint  text             not null,
    labels       jsonb            not null,
    from_state   text             not null,   -- inactive | pending | firing
    to_state     text             not null,   -- inactive | pending | firing | resolved
    value        double precision,
    summary      text,
    at           timestamptz      not null
);
create index alert_history_tenant_at on alert_history (tenant_id, at desc, id desc);
create index alert_history_rule on alert_history (rule_id, at desc);
