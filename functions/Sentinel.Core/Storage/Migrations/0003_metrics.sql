-- Monitoring: agents, the series catalogue, the batch ledger, raw samples and their 1-minute / 1-hour roll-ups.
-- Samples and roll-ups are TimescaleDB hypertables when the server offers the extension and preloads it (Azure
-- Flexible Server with azure.extensions + shared_preload_libraries), using only the Apache-2 edition
-- (create_hypertable, drop_chunks); otherwise native range partitions (samples by UTC day, roll-ups by UTC month),
-- created ahead by the retention timer and on demand by ingest. No default partition: a row never lands in one.

create table agents (
    id                    text        primary key,      -- globally unique, names its series and its key
    tenant_id             text        not null,
    name                  text        not null,
    key_version           int         not null default 1,
    previous_key_version  int,                          -- still accepted until previous_key_until (rotation grace)
    previous_key_until    timestamptz,
    created_at            timestamptz not null default now(),
    created_by            text        not null,
    revoked_at            timestamptz,
    last_seen             timestamptz,                  -- when its newest batch was stored
    last_collected        timestamptz,                  -- that batch's collection time
    last_seq              bigint,
    interval_seconds      int,
    host                  text,
    agent_version         text,
    facts                 jsonb       not null default '{}',
    unique (tenant_id, name)
);
create index agents_tenant on agents (tenant_id, created_at);

-- name + labels → id. labels_key is the canonical "k=v\x1f…" text (sorted by key) the uniqueness hangs on.
create table metric_series (
    id          bigint generated always as identity primary key,
    tenant_id   text        not null,
    agent_id    text        not null,
    name        text        not null,
    labels      jsonb       not null,
    labels_key  text        not null,
    created_at  timestamptz not null default now(),
    unique (agent_id, name, labels_key)
);
create index metric_series_tenant_name on metric_series (tenant_id, name);

-- One row per stored batch, written in the same transaction as its samples: (agent_id, seq) makes a redelivered or
-- re-sent batch a no-op. signature_hash tells the same Event Hubs event delivered again (or the agent's own re-send,
-- which signs afresh) from a captured event replayed as a new one.
create table metric_batches (
    agent_id        text        not null,
    seq             bigint      not null,
    tenant_id       text        not null,
    collected_at    timestamptz not null,
    received_at     timestamptz not null default now(),
    samples         int         not null,
    signature_hash  bytea       not null,
    event_source    text,                              -- "partition/sequence" of the Event Hubs event
    rolled_up       boolean     not null default false,
    primary key (agent_id, seq)
);
create index metric_batches_received on metric_batches (received_at);
create index metric_batches_pending on metric_batches (collected_at) where not rolled_up;

do $$
declare
    timescale boolean := exists (select 1 from pg_available_extensions where name = 'timescaledb')
                         and current_setting('shared_preload_libraries', true) like '%timescaledb%';
    -- Native partitions when there is no TimescaleDB; nothing when there is (create_hypertable takes a plain table).
    by_ts text := case when timescale then '' else 'partition by range (ts)' end;
    by_bucket text := case when timescale then '' else 'partition by range (bucket)' end;
begin
    if timescale then
        create extension if not exists timescaledb;
    end if;

    execute format($sql$
        create table metric_samples (
            series_id  bigint           not null,
            ts         timestamptz      not null,
            value      double precision not null
        ) %s$sql$, by_ts);
    execute format($sql$
        create table metric_rollup_1m (
            series_id  bigint           not null,
            bucket     timestamptz      not null,
            min        double precision not null,
            max        double precision not null,
            sum        double precision not null,
            count      int              not null,
            last       double precision not null,
            primary key (series_id, bucket)
        ) %s$sql$, by_bucket);
    execute format('create table metric_rollup_1h (like metric_rollup_1m including all) %s', by_bucket);

    if timescale then
        perform create_hypertable('metric_samples', 'ts', chunk_time_interval => interval '1 day');
        perform create_hypertable('metric_rollup_1m', 'bucket', chunk_time_interval => interval '7 days');
        perform create_hypertable('metric_rollup_1h', 'bucket', chunk_time_interval => interval '30 days');
    end if;
    create index metric_samples_series_ts on metric_samples (series_id, ts);
    -- The roll-up timer reads whole minutes across all series: rows arrive in time order, so a BRIN index on the time
    -- finds a minute's blocks for almost nothing (the btree above serves per-series range queries).
    create index metric_samples_ts on metric_samples using brin (ts);
    create index metric_rollup_1m_bucket on metric_rollup_1m using brin (bucket);
end;
$$;

-- Creates the partition of a natively partitioned metrics table covering ts, if missing: a UTC day for samples,
-- a UTC month for roll-ups. Serialized per partition by an advisory lock, so ingest and the retention timer can
-- both call it. Returns the partition's name when it created one, else null (it existed, or the table is a hypertable).
create function sentinel_metric_partition(parent text, ts timestamptz) returns text
language plpgsql as $$
declare
    monthly boolean := parent <> 'metric_samples';
    lo timestamptz;
    hi timestamptz;
    part text;
begin
    if parent not in ('metric_samples', 'metric_rollup_1m', 'metric_rollup_1h') then
        raise exception 'not a metrics table: %', parent;
    end if;
    if not exists (select 1 from pg_partitioned_table where partrelid = parent::regclass) then
        return null;
    end if;
    if monthly then
        lo := date_trunc('month', ts at time zone 'UTC') at time zone 'UTC';
        hi := (date_trunc('month', ts at time zone 'UTC') + interval '1 month') at time zone 'UTC';
        part := parent || '_p' || to_char(lo at time zone 'UTC', 'YYYYMM');
    else
        lo := date_trunc('day', ts at time zone 'UTC') at time zone 'UTC';
        hi := (date_trunc('day', ts at time zone 'UTC') + interval '1 day') at time zone 'UTC';
        part := parent || '_p' || to_char(lo at time zone 'UTC', 'YYYYMMDD');
    end if;
    perform pg_advisory_xact_lock(hashtext('sentinel_metric_partition'), hashtext(part));
    if to_regclass(part) is not null then
        return null;
    end if;
    execute format('create table %I partition of %I for values from (%L) to (%L)', part, parent, lo, hi);
    return part;
end;
$$;
