using Npgsql;
using Sentinel.Core.Monitoring;

namespace Sentinel.Core.Alerts;

/// <summary>
/// Metrics Sentinel computes instead of storing, for rules about the system itself. Their value is read at the
/// evaluation (the rule's aggregation and window do not apply). Names under <c>sentinel.</c> are reserved: an agent's
/// samples under such a name are never what a rule sees.
/// </summary>
internal static class VirtualMetrics
{
    public const string Prefix = "sentinel.";

    /// <summary>Per reporting agent: time since its newest batch divided by its interval (labels agent, agent_name, host).</summary>
    public const string AgentSilentIntervals = "sentinel.agent.silent_intervals";

    /// <summary>Per relay instance and target: dead-lettered deliveries (labels instance, target).</summary>
    public const string RelayDeadLetters = "sentinel.relay.dead_letters";

    public static IReadOnlyList<string> All { get; } = [AgentSilentIntervals, RelayDeadLetters];

    public static bool IsVirtual(string metric) => metric.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The metric's current series and values in a tenant, filtered by the rule's matchers.</summary>
    public static async Task<List<(SeriesInfo Series, double Value)>> ReadAsync(NpgsqlDataSource dataSource, AlertRule rule, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        var result = new List<(SeriesInfo, double)>();
        if (rule.Metric == AgentSilentIntervals)
        {
            await using var command = dataSource.CreateCommand(
                """
                select id, name, coalesce(host, ''), extract(epoch from $2 - last_seen)::float8 / greatest(coalesce(interval_seconds, 10), 1)
                from agents where tenant_id = $1 and revoked_at is null and last_seen is not null
                """);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.TenantId });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
                result.Add((new SeriesInfo(0, r.GetString(0), rule.Metric, new Dictionary<string, string> { ["agent_name"] = r.GetString(1), ["host"] = r.GetString(2) }),
                    Math.Round(Math.Max(0, r.GetDouble(3)), 1)));
        }
        else if (rule.Metric == RelayDeadLetters)
        {
            await using var command = dataSource.CreateCommand(
                "select instance, target, count(*) from relay_deliveries where tenant_id = $1 and state = 'dead' group by instance, target");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.TenantId });
            await using var r = await command.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
                result.Add((new SeriesInfo(0, "", rule.Metric, new Dictionary<string, string> { ["instance"] = r.GetString(0), ["target"] = r.GetString(1) }), r.GetInt64(2)));
        }

        var matchers = rule.Matchers.Select(m => LabelMatcher.TryParse(m, out var parsed) ? parsed! : null).OfType<LabelMatcher>().ToList();
        return result.Where(s => matchers.All(m => AlertSilences.Matches(m, m.Name == "agent" ? new Dictionary<string, string> { ["agent"] = s.Item1.AgentId } : s.Item1.Labels))).ToList();
    }
}
