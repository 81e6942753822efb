-- Gateway request log: one row per API request, written in batches by binary COPY, never on the request path.
-- Range-partitioned by day so retention drops whole partitions; a default partition catches rows for a day
-- whose partition does not exist yet, and sentinel_request_log_partition() moves them when it creates it.
create table request_log (
    ts            timestamptz not null,
    tenant_id     text,                 -- null for anonymous requests (signup, failed logins, health)
    principal     text,                 -- user:{id} or key:{id}; never a secret
    ip            inet,
    method        text        not null,
    route         text        not null, -- the route template, e.g. /api/users/{id}, never the raw path
    status        smallint    not null,
    duration_ms   real        not null,
    bytes_in      bigint      not null,
    bytes_out     bigint      not null,
    rate_limited  boolean     not null
) partition by range (ts);

create table request_log_default partition of request_log default;
create index request_log_tenant_ts on request_log (tenant_id, ts);
-- Rows arrive in time order: a BRIN index on ts costs almost nothing to maintain and serves all-tenant scans.
create index request_log_ts on request_log using brin (ts);

-- Creates the partition for one UTC day if missing, moving any rows the default partition holds for it.
-- Serialized per day by an advisory lock, so concurrent instances can all call it.
create function sentinel_request_log_partition(day date) returns text
language plpgsql as $$
declare
    part text := 'request_log_p' || to_char(day, 'YYYYMMDD');
    lo timestamptz := (day::timestamp at time zone 'UTC');
    hi timestamptz := ((day + 1)::timestamp at time zone 'UTC');
begin
    perform pg_advisory_xact_lock(hashtext('sentinel_request_log_partition'), hashtext(part));
    if to_regclass(part) is not null then
        return part;
    end if;
    execute format('create table %I (like request_log including defaults)', part);
    execute format('with moved as (delete from request_log_default where ts >= %L and ts < %L returning *) insert into %I select * from moved', lo, hi, part);
    execute format('alter table request_log attach partition %I for values from (%L) to (%L)', part, lo, hi);
    return part;
end;
$$;
