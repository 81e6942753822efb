-- Foundation: what the custom-handler plumbing itself writes.
-- Events that reached a function but must never be retried (malformed envelope, a body that cannot be
-- understood) are recorded here and acknowledged, so a poison event cannot block its partition forever.
create table rejected_events (
    id           bigint generated always as identity primary key,
    tenant_id    text,                        -- null when the event could not be attributed to a tenant
    function     text        not null,
    source       text        not null,        -- e.g. "partition 3 seq 1042" or an invocation id
    reason       text        not null,
    payload      bytea,                       -- the event as received, cut to 64 KiB
    received_at  timestamptz not null default now()
);
create index rejected_events_received_at on rejected_events (received_at);
create index rejected_events_tenant on rejected_events (tenant_id, received_at) where tenant_id is not null;
