-- Heuristics and insights (docs/insights.md): what the `heuristics` timer noticed, in plain language with its numbers.

-- The account a failed login named (lower-cased email), for brute-force detection; null on every other request.
alter table request_log add column account text;

-- Per-minute gateway traffic, rolled up from the request log by the heuristics timer: overall (scope '*') and per
-- client IP (only IPs with at least 30 requests in the minute). The baselines of floods, error spikes and latency
-- regressions are read from here (7 days), never from the raw log.
create table gateway_minutes (
    minute    timestamptz not null,
    scope     text        not null,   -- '*' or an IP address
    requests  int         not null,
    errors    int         not null,   -- 5xx answers
    p95_ms    real,
    primary key (minute, scope)
);
create index gateway_minutes_scope on gateway_minutes (scope, minute) where scope <> '*';

-- An insight: one per (tenant, kind, subject) while it is active; tenant_id null for installation-wide signals
-- (the gateway's traffic, attacks on unknown accounts), which owners see.
create table insights (
    id            bigint      generated always as identity primary key,
    tenant_id     text,
    kind          text        not null,   -- brute_force | flood | error_spike | latency | anomaly | evolution_silent | relay_backlog | target_failing
    subject       text        not null,   -- what it is about: an IP, a series, an instance, a target
    severity      text        not null,   -- critical | warning | info
    title         text        not null,
    message       text        not null,   -- a sentence with the numbers behind it
    action        text        not null,   -- what to do about it
    evidence      jsonb       not null,   -- the numbers: observed, baseline, threshold, counts
    window_start  timestamptz not null,
    window_end    timestamptz not null,
    first_seen    timestamptz not null,
    last_seen     timestamptz not null,
    state         text        not null default 'active' check (state in ('active', 'resolved')),
    resolved_at   timestamptz
);
create unique index insights_active on insights (coalesce(tenant_id, ''), kind, subject) where state = 'active';
create index insights_tenant on insights (tenant_id, id desc);            -- the API: a tenant's newest first, paged by id
create index insights_resolved on insights (resolved_at) where state = 'resolved';  -- retention
