-- Alert notifications (docs/alerts.md): receivers, Alertmanager's aggregation groups with their notification log, and
-- the members of each group. Notifications are relay deliveries (the same outbox, retries, dead letters and replay):
-- their request body is built once when the group is flushed and kept with the delivery, so every retry and replay
-- sends the same bytes under the same webhook-id.

alter table relay_deliveries add column body text;

-- Where a tenant's alerts go. kind: n8n | webhook (Alertmanager's webhook JSON, Standard Webhooks signature),
-- slack (a Slack-compatible incoming webhook), chatwoot (a private note in one conversation, through a relay route's
-- Chatwoot account). matchers choose the alerts (all when empty); the grouping settings override Alerts:Notifications.
create table alert_receivers (
    id                        text        primary key,
    tenant_id                 text        not null,
    name                      text        not null,
    kind                      text        not null check (kind in ('n8n', 'webhook', 'slack', 'chatwoot')),
    url                       text,
    signing_secret            text,                    -- whsec_…, n8n and webhook
    chatwoot_instance         text,                    -- the relay route whose Chatwoot account is used
    chatwoot_conversation_id  bigint,
    matchers                  jsonb       not null default '[]',
    group_by                  text[]      not null,
    group_wait_seconds        int,
    group_interval_seconds    int,
    repeat_interval_seconds   int,
    send_resolved             boolean     not null default true,
    enabled                   boolean     not null default true,
    disabled_reason           text,
    version                   int         not null default 1,
    created_at                timestamptz not null,
    updated_at                timestamptz not null,
    unique (tenant_id, name)
);

-- One aggregation group per (receiver, values of its group_by labels), with Alertmanager's notification log: the
-- fingerprints of the firing and resolved alerts the last notification carried, and when it went.
create table alert_groups (
    id                bigint      generated always as identity primary key,
    tenant_id         text        not null,
    receiver_id       text        not null,
    group_key         text        not null,
    labels            jsonb       not null,
    active_since      timestamptz,                     -- null: no members (waits for group_wait when one arrives)
    next_flush_at     timestamptz,
    last_notified_at  timestamptz,
    last_firing       text[]      not null default '{}',
    last_resolved     text[]      not null default '{}',
    unique (receiver_id, group_key)
);

-- The alerts in a group: firing ones as the evaluator last saw them, resolved ones until a flush has seen them.
create table alert_group_alerts (
    group_id     bigint           not null,
    alert_key    text             not null,           -- rule id + '/' + series fingerprint
    rule_id      text             not null,
    rule_name    text             not null,
    severity     text             not null,
    labels       jsonb            not null,
    annotations  jsonb            not null,
    value        double precision,
    starts_at    timestamptz      not null,
    ends_at      timestamptz,
    state        text             not null check (state in ('firing', 'resolved')),
    primary key (group_id, alert_key)
);

-- History rows for notifications: kind 'notification', the receiver, and the delivery carrying it.
alter table alert_history add column kind text not null default 'state';
alter table alert_history add column receiver_id text;
alter table alert_history add column delivery_id bigint;
