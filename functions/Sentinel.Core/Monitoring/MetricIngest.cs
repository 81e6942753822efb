using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Storage;

namespace Sentinel.Core.Monitoring;

/// <summary>One Event Hubs event as ingest sees it: the exact body bytes, the signature properties, and where it came from.</summary>
/// <param name="Body">The body bytes the agent signed.</param>
/// <param name="Agent">The agent id property.</param>
/// <param name="KeyVersion">The key version property.</param>
/// <param name="Timestamp">The signing time property (Unix seconds).</param>
/// <param name="Signature">The signature property.</param>
/// <param name="EnqueuedTime">When Event Hubs accepted the event; skew is measured against it.</param>
/// <param name="Source">"partition/sequence" of the event: the same event delivered again has the same source.</param>
internal sealed record MetricEvent(byte[] Body, string? Agent, string? KeyVersion, string? Timestamp, string? Signature, DateTimeOffset? EnqueuedTime, string Source);

/// <summary>What one call stored.</summary>
/// <remarks><c>TouchedSeries</c>: the distinct series the stored batches wrote — what alert rules to evaluate now.</remarks>
internal sealed record IngestReport(int Stored, int Duplicates, int Rejected, int Samples, IReadOnlyList<string> Reasons, IReadOnlyList<long> TouchedSeries);

/// <summary>
/// Stores agent metric batches: verifies each event (signature over the exact bytes, key version, clock skew against the
/// time Event Hubs enqueued it — so a backlog read late is not stale), parses and bounds it, and in <b>one transaction</b>
/// records the rejected ones in <c>rejected_events</c>, writes the ledger rows of the new ones (<c>(agent, seq)</c> unique:
/// a redelivered batch is a no-op), their samples by binary COPY, and the agents' last-seen and facts. Any database error
/// escapes, so the invocation answers non-2xx and the host retries the whole batch; nothing is half-stored.
/// </summary>
internal sealed class MetricIngest(
    NpgsqlDataSource dataSource, AgentRegistry agents, MetricStorage storage, SeriesCatalogue series, MonitoringOptions options, TimeProvider time)
{
    private long _stored;
    private long _duplicates;
    private long _rejected;
    private long _samples;
    private long _lastStoredTicks;

    /// <summary>Batches stored by this instance since start.</summary>
    public long Stored => Interlocked.Read(ref _stored);
    public long Duplicates => Interlocked.Read(ref _duplicates);
    public long Rejected => Interlocked.Read(ref _rejected);
    public long Samples => Interlocked.Read(ref _samples);
    public DateTimeOffset? LastStoredAt => Interlocked.Read(ref _lastStoredTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <param name="events">The events of one invocation.</param>
    /// <param name="function">The function they came to, as <c>rejected_events</c> records it.</param>
    /// <param name="cancellationToken">Cancels the invocation.</param>
    public async Task<IngestReport> IngestAsync(IReadOnlyList<MetricEvent> events, string function, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var rejected = new List<(MetricEvent Event, string? Tenant, string Reason)>();
        var valid = new List<Verified>();
        var seen = new HashSet<(string, long)>();
        var duplicates = 0;

        // Key state per agent first (cached, async), then the CPU work — signature, JSON, bounds, series keys — on
        // every core: the database is idle meanwhile, and one invocation carries up to the host's batch size of events.
        var states = await agents.KeyStatesAsync(events.Where(e => MetricRules.IsAgentId(e.Agent)).Select(e => e.Agent!), cancellationToken);

        var results = new (Verified? Verified, string? Tenant, string? Reason)[events.Count];
        Parallel.For(0, events.Count, new ParallelOptions { CancellationToken = cancellationToken },
            i => results[i] = Verify(events[i], events[i].Agent is { } a && states.TryGetValue(a, out var st) ? st : null, now));
        for (var i = 0; i < events.Count; i++)
        {
            var (verified, tenant, reason) = results[i];
            if (verified is null)
                rejected.Add((events[i], tenant, reason!));
            else if (!seen.Add((verified.Batch.Agent, verified.Batch.Seq)))
                duplicates++; // the same batch twice in one invocation (the agent re-sent it before the first was read)
            else
                valid.Add(verified);
        }

        if (valid.Any(v => v.Parsed.Pending.Count > 0))
            await series.ResolveAsync(valid.Select(v => (v.Tenant, v.Parsed)), cancellationToken);
        if (valid.Count > 0)
            await storage.EnsurePartitionsAsync(MetricStorage.Samples, valid.Select(v => v.Batch.Time), cancellationToken);

        var stored = 0;
        var samples = 0;
        var touched = new HashSet<long>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        if (valid.Count > 0)
        {
            var inserted = await InsertLedgerAndTouchAgentsAsync(connection, tx, valid, now, cancellationToken);
            var fresh = valid.Where(v => inserted.Contains((v.Batch.Agent, v.Batch.Seq))).ToList();
            var again = valid.Where(v => !inserted.Contains((v.Batch.Agent, v.Batch.Seq))).ToList();
            foreach (var (v, replay) in await ClassifyRepeatsAsync(connection, tx, again, cancellationToken))
            {
                if (replay)
                    rejected.Add((v.Event, v.Tenant, "replayed: this signed event was already stored from another Event Hubs event"));
                else
                    duplicates++;
            }

            samples = await CopySamplesAsync(connection, fresh, cancellationToken);
            stored = fresh.Count;
            foreach (var v in fresh)
                touched.UnionWith(v.Parsed.Ids);
        }

        await RejectedEventStore.RecordAsync(connection, tx,
            rejected.Select(r => new RejectedEvent(r.Tenant, function, r.Event.Source, r.Reason, r.Event.Body)).ToList(), cancellationToken);
        await tx.CommitAsync(cancellationToken);
        Interlocked.Add(ref _stored, stored);
        Interlocked.Add(ref _duplicates, duplicates);
        Interlocked.Add(ref _rejected, rejected.Count);
        Interlocked.Add(ref _samples, samples);
        if (stored > 0)
            Interlocked.Exchange(ref _lastStoredTicks, now.UtcTicks);
        return new IngestReport(stored, duplicates, rejected.Count, samples, rejected.Select(r => r.Reason).ToList(), [.. touched]);
    }

    private (Verified? Verified, string? Tenant, string? Reason) Verify(MetricEvent e, AgentKeyState? state, DateTimeOffset now)
    {
        if (e.Agent is null || e.KeyVersion is null || e.Timestamp is null || e.Signature is null)
            return (null, null, $"unsigned: the event lacks the {AgentSignature.AgentProperty}, {AgentSignature.KeyVersionProperty}, {AgentSignature.TimestampProperty} and {AgentSignature.SignatureProperty} properties");
        if (!MetricRules.IsAgentId(e.Agent))
            return (null, null, "malformed: the agent property is not an agent id");
        if (!int.TryParse(e.KeyVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            || !long.TryParse(e.Timestamp, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var timestamp))
            return (null, null, "malformed: the key version or timestamp property is not a number");

        if (state is null)
            return (null, null, $"unknown agent '{e.Agent}'");
        if (state.Revoked)
            return (null, state.TenantId, $"agent '{e.Agent}' is revoked");
        var reference = e.EnqueuedTime ?? now;
        var versionOk = version == state.KeyVersion
                        || (version == state.PreviousKeyVersion && state.PreviousKeyUntil is { } until && reference <= until);
        if (!versionOk)
            return (null, state.TenantId, $"key version {version} is not accepted (current {state.KeyVersion})");
        if (!AgentSignature.Verify(agents.Key(state.TenantId, e.Agent, version), e.Agent, version, timestamp, e.Body, e.Signature))
            return (null, state.TenantId, "forged: the signature does not match the body");

        var signedAt = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(timestamp, 0, 253402300799));
        if (signedAt < reference - options.ClockSkew)
            return (null, state.TenantId, string.Create(CultureInfo.InvariantCulture, $"stale: signed {(reference - signedAt).TotalSeconds:0} s before it was enqueued (limit {options.ClockSkew.TotalSeconds:0} s)"));
        if (signedAt > reference + options.ClockSkew)
            return (null, state.TenantId, string.Create(CultureInfo.InvariantCulture, $"from the future: signed {(signedAt - reference).TotalSeconds:0} s after it was enqueued (limit {options.ClockSkew.TotalSeconds:0} s); check the agent's clock"));

        var parsed = MetricBatchReader.Read(e.Body, series, out var problem);
        if (parsed is null)
            return (null, state.TenantId, problem);
        var batch = parsed.Header;
        if (!string.Equals(batch.Agent, e.Agent, StringComparison.Ordinal))
            return (null, state.TenantId, "invalid: the batch names another agent than its signature");
        if (batch.Time < now - options.RawRetention)
            return (null, state.TenantId, "too old: collected before the raw retention window");
        if (batch.Time > reference + options.ClockSkew)
            return (null, state.TenantId, "from the future: collected after it was enqueued; check the agent's clock");
        return (new Verified(e, state.TenantId, batch, parsed, SHA256.HashData(Encoding.UTF8.GetBytes(e.Signature))), state.TenantId, null);
    }

    /// <summary>
    /// One round trip: the ledger rows (a conflict means the batch is already stored) and the agents' last-seen, host,
    /// interval and facts from their newest batch here (guarded by seq, so a duplicate changes nothing that matters).
    /// </summary>
    private static async Task<HashSet<(string, long)>> InsertLedgerAndTouchAgentsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<Verified> valid, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var ledger = new NpgsqlBatchCommand("""
            insert into metric_batches (agent_id, seq, tenant_id, collected_at, received_at, samples, signature_hash, event_source)
            select * from unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::bytea[], $8::text[])
            on conflict (agent_id, seq) do nothing
            returning agent_id, seq
            """);
        ledger.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = valid.Select(v => v.Batch.Agent).ToArray() });
        ledger.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = valid.Select(v => v.Batch.Seq).ToArray() });
        ledger.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = valid.Select(v => v.Tenant).ToArray() });
        ledger.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = valid.Select(v => v.Batch.Time).ToArray() });
        ledger.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = valid.Select(_ => now).ToArray() });
        ledger.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = valid.Select(v => v.Parsed.Count).ToArray() });
        ledger.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = valid.Select(v => v.SignatureHash).ToArray() });
        ledger.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = valid.Select(v => v.Event.Source).ToArray() });

        var newest = valid.GroupBy(v => v.Batch.Agent).Select(g => g.MaxBy(v => v.Batch.Seq)!).ToList();
        var agents = new NpgsqlBatchCommand("""
            update agents a set
                last_seen = $2,
                last_collected = greatest(a.last_collected, u.collected),
                last_seq = greatest(a.last_seq, u.seq),
                interval_seconds = case when a.last_seq is null or u.seq >= a.last_seq then u.interval else a.interval_seconds end,
                host = case when a.last_seq is null or u.seq >= a.last_seq then u.host else a.host end,
                agent_version = case when a.last_seq is null or u.seq >= a.last_seq then coalesce(u.facts ->> 'agent_version', a.agent_version) else a.agent_version end,
                facts = case when (a.last_seq is null or u.seq >= a.last_seq) and u.facts is not null then u.facts else a.facts end
            from unnest($1::text[], $3::timestamptz[], $4::bigint[], $5::int[], $6::text[], $7::jsonb[]) as u(id, collected, seq, interval, host, facts)
            where a.id = u.id
            """);
        agents.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = newest.Select(v => v.Batch.Agent).ToArray() });
        agents.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        agents.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = newest.Select(v => v.Batch.Time).ToArray() });
        agents.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = newest.Select(v => v.Batch.Seq).ToArray() });
        agents.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = newest.Select(v => v.Batch.Interval).ToArray() });
        agents.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = newest.Select(v => v.Batch.Host).ToArray() });
        agents.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb, Value = newest.Select(v =>
            v.Batch.Facts is null ? null : JsonSerializer.Serialize(new Dictionary<string, string>(v.Batch.Facts), LabelsJsonContext.Default.DictionaryStringString)).ToArray() });

        await using var batch = new NpgsqlBatch(connection, tx) { BatchCommands = { ledger, agents } };
        var inserted = new HashSet<(string, long)>();
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            inserted.Add((reader.GetString(0), reader.GetInt64(1)));
        return inserted;
    }

    /// <summary>
    /// A batch already in the ledger is a duplicate — the same Event Hubs event delivered again (same source), or the
    /// agent re-sending it (signed afresh) — unless the very same signature arrives as a different event: a replay.
    /// </summary>
    private static async Task<List<(Verified, bool Replay)>> ClassifyRepeatsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, List<Verified> again, CancellationToken cancellationToken)
    {
        var result = new List<(Verified, bool)>();
        if (again.Count == 0)
            return result;
        await using var command = new NpgsqlCommand("""
            select b.agent_id, b.seq, b.signature_hash, b.event_source
            from metric_batches b join unnest($1::text[], $2::bigint[]) as k(agent_id, seq) using (agent_id, seq)
            """, connection, tx);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = again.Select(v => v.Batch.Agent).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = again.Select(v => v.Batch.Seq).ToArray() });
        var existing = new Dictionary<(string, long), (byte[] Hash, string? Source)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                existing[(reader.GetString(0), reader.GetInt64(1))] = (reader.GetFieldValue<byte[]>(2), reader.IsDBNull(3) ? null : reader.GetString(3));
        }

        foreach (var v in again)
        {
            var replay = existing.TryGetValue((v.Batch.Agent, v.Batch.Seq), out var row)
                         && row.Hash.AsSpan().SequenceEqual(v.SignatureHash)
                         && !string.Equals(row.Source, v.Event.Source, StringComparison.Ordinal);
            result.Add((v, replay));
        }

        return result;
    }

    private static async Task<int> CopySamplesAsync(NpgsqlConnection connection, List<Verified> fresh, CancellationToken cancellationToken)
    {
        if (fresh.Count == 0)
            return 0;
        var count = 0;
        await using var writer = await connection.BeginBinaryImportAsync("copy metric_samples (series_id, ts, value) from stdin (format binary)", cancellationToken);
        foreach (var v in fresh)
        {
            var parsed = v.Parsed;
            for (var i = 0; i < parsed.Count; i++)
            {
                await writer.StartRowAsync(cancellationToken);
                await writer.WriteAsync(parsed.Ids[i], NpgsqlDbType.Bigint, cancellationToken);
                await writer.WriteAsync(v.Batch.Time, NpgsqlDbType.TimestampTz, cancellationToken);
                await writer.WriteAsync(parsed.Values[i], NpgsqlDbType.Double, cancellationToken);
                count++;
            }
        }

        await writer.CompleteAsync(cancellationToken);
        return count;
    }

    private sealed record Verified(MetricEvent Event, string Tenant, MetricBatch Batch, ParsedBatch Parsed, byte[] SignatureHash);
}
