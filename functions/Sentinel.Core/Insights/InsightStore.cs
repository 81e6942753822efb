using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using NpgsqlTypes;

namespace Sentinel.Core.Insights;

/// <summary>The kinds of insight.</summary>
internal static class InsightKinds
{
    public const string BruteForce = "brute_force";
    public const string Flood = "flood";
    public const string ErrorSpike = "error_spike";
    public const string Latency = "latency";
    public const string Anomaly = "anomaly";
    public const string EvolutionSilent = "evolution_silent";
    public const string RelayBacklog = "relay_backlog";
    public const string TargetFailing = "target_failing";

    public static readonly IReadOnlyList<string> All = [BruteForce, Flood, ErrorSpike, Latency, Anomaly, EvolutionSilent, RelayBacklog, TargetFailing];
}

/// <summary>What a detector found: an insight to record (or refresh, while it lasts).</summary>
internal sealed record InsightDraft(
    string? TenantId, string Kind, string Subject, string Severity, string Title, string Message, string Action,
    IReadOnlyDictionary<string, double> Evidence, DateTimeOffset WindowStart, DateTimeOffset WindowEnd);

/// <summary>An insight as stored and shown.</summary>
internal sealed record Insight(
    long Id, string? TenantId, string Kind, string Subject, string Severity, string Title, string Message, string Action,
    IReadOnlyDictionary<string, double> Evidence, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, DateTimeOffset FirstSeen, DateTimeOffset LastSeen,
    string State, DateTimeOffset? ResolvedAt);

/// <summary>Filters of the insights API.</summary>
internal sealed record InsightQuery(string? Kind, string? Severity, string? State, DateTimeOffset? Since, long? Before, int Limit);

/// <summary>
/// Insights in PostgreSQL: one active row per (tenant, kind, subject), refreshed while its detector keeps finding it and
/// resolved once it has not for <see cref="ResolveAfter"/> (and its window — a block's end — has passed). Reading is
/// tenant-scoped; installation-wide insights (no tenant) are shown to owners.
/// </summary>
internal sealed class InsightStore(NpgsqlDataSource dataSource)
{
    public static readonly TimeSpan ResolveAfter = TimeSpan.FromMinutes(5);

    /// <summary>Resolved insights are kept this long.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(90);

    private const string Columns =
        "id, tenant_id, kind, subject, severity, title, message, action, evidence, window_start, window_end, first_seen, last_seen, state, resolved_at";

    /// <summary>Records what a pass found and resolves what it no longer finds, in the caller's transaction.</summary>
    public static async Task<(int Recorded, int Resolved)> ApplyAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<InsightDraft> drafts, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(drafts);
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var d in drafts)
        {
            var upsert = new NpgsqlBatchCommand(
                """
                insert into insights (tenant_id, kind, subject, severity, title, message, action, evidence, window_start, window_end, first_seen, last_seen)
                values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
                on conflict (coalesce(tenant_id, ''), kind, subject) where state = 'active' do update set severity = excluded.severity, title = excluded.title,
                    message = excluded.message, action = excluded.action, evidence = excluded.evidence,
                    window_end = greatest(insights.window_end, excluded.window_end), last_seen = excluded.last_seen
                """);
            var p = upsert.Parameters;
            p.Add(new NpgsqlParameter { Value = (object?)d.TenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            p.Add(new NpgsqlParameter<string> { TypedValue = d.Kind });
            p.Add(new NpgsqlParameter<string> { TypedValue = d.Subject });
            p.Add(new NpgsqlParameter<string> { TypedValue = d.Severity });
            p.Add(new NpgsqlParameter<string> { TypedValue = d.Title });
            p.Add(new NpgsqlParameter<string> { TypedValue = d.Message });
            p.Add(new NpgsqlParameter<string> { TypedValue = d.Action });
            p.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(new Dictionary<string, double>(d.Evidence), InsightsJsonContext.Default.DictionaryStringDouble), NpgsqlDbType = NpgsqlDbType.Jsonb });
            p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = d.WindowStart });
            p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = d.WindowEnd });
            p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            batch.BatchCommands.Add(upsert);
        }

        var resolve = new NpgsqlBatchCommand("update insights set state = 'resolved', resolved_at = $1 where state = 'active' and last_seen < $2 and window_end < $1");
        resolve.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        resolve.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now - ResolveAfter });
        batch.BatchCommands.Add(resolve);
        var purge = new NpgsqlBatchCommand("delete from insights where state = 'resolved' and resolved_at < $1");
        purge.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now - Retention });
        batch.BatchCommands.Add(purge);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        return (drafts.Count, batch.BatchCommands[drafts.Count].RecordsAffected);
    }

    /// <summary>A tenant's insights (and, for owners, the installation's), newest first.</summary>
    public async Task<IReadOnlyList<Insight>> ListAsync(string tenantId, bool withInstallation, InsightQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = dataSource.CreateCommand(
            $"""
            select {Columns} from insights
            where (tenant_id = $1 or ($2 and tenant_id is null)) and ($3::text is null or kind = $3) and ($4::text is null or severity = $4)
              and ($5::text is null or state = $5) and ($6::timestamptz is null or last_seen >= $6) and ($7::bigint is null or id < $7)
            order by id desc limit $8
            """);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        p.Add(new NpgsqlParameter<bool> { TypedValue = withInstallation });
        p.Add(new NpgsqlParameter { Value = (object?)query.Kind ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)query.Severity ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)query.State ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)query.Since ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter { Value = (object?)query.Before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        p.Add(new NpgsqlParameter<int> { TypedValue = Math.Clamp(query.Limit, 1, 500) });
        var list = new List<Insight>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new Insight(r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6),
                r.GetString(7), JsonSerializer.Deserialize(r.GetString(8), InsightsJsonContext.Default.DictionaryStringDouble) ?? [],
                r.GetFieldValue<DateTimeOffset>(9), r.GetFieldValue<DateTimeOffset>(10), r.GetFieldValue<DateTimeOffset>(11), r.GetFieldValue<DateTimeOffset>(12),
                r.GetString(13), r.IsDBNull(14) ? null : r.GetFieldValue<DateTimeOffset>(14)));
        }

        return list;
    }
}

[JsonSerializable(typeof(Dictionary<string, double>))]
internal sealed partial class InsightsJsonContext : JsonSerializerContext;
