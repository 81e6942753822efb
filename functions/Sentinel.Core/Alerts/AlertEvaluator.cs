using Microsoft.Extensions.Logging;
using Npgsql;
using Sentinel.Core.Monitoring;

namespace Sentinel.Core.Alerts;

/// <summary>What one evaluation pass did.</summary>
internal sealed record AlertEvaluation(int Rules, int Series, int Changes, int Firing, int Pending);

/// <summary>
/// Evaluates alert rules: per rule, the series its metric and matchers select (in its tenant) — stored samples reduced
/// over the rule's window ending now (avg, max, min, last, or rate = change per second between the first and last
/// sample), or a <see cref="VirtualMetrics">virtual metric</see>'s current value — compared with the threshold and
/// stepped through <see cref="AlertStateMachine"/>; instances whose series returned nothing are stepped as false
/// (missing data resolves, as in Prometheus). One transaction per rule. Built-in rules are created on the way.
/// </summary>
internal sealed partial class AlertEvaluator(AlertStore store, MetricQueries queries, NpgsqlDataSource dataSource, TimeProvider time, ILogger<AlertEvaluator> logger)
{
    /// <summary>Series one rule may select; beyond this the rule is evaluated on the first ones and a warning logged.</summary>
    public const int MaxSeriesPerRule = 1000;

    public async Task<AlertEvaluation> EvaluateAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await store.EnsureBuiltinsAsync(tenantId, cancellationToken);
        return await EvaluateRulesAsync(await store.EnabledAsync(tenantId, cancellationToken), cancellationToken);
    }

    /// <summary>Right after ingest: the rules of the tenants and metrics a stored batch touched, so an alert does not wait
    /// for the minute timer. Timing (<c>for</c>) is the same either way: it counts from the first true evaluation.</summary>
    public async Task<AlertEvaluation> EvaluateTouchedAsync(IReadOnlyList<long> seriesIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(seriesIds);
        if (seriesIds.Count == 0)
            return new AlertEvaluation(0, 0, 0, 0, 0);
        var touched = await MetricsOfAsync(seriesIds, cancellationToken);
        var rules = new List<AlertRule>();
        foreach (var tenant in touched.Select(t => t.Tenant).Distinct(StringComparer.Ordinal))
            rules.AddRange((await store.EnabledAsync(tenant, cancellationToken)).Where(r => touched.Contains((tenant, r.Metric))));
        return await EvaluateRulesAsync(rules, cancellationToken);
    }

    /// <summary>The (tenant, metric) pairs of some series.</summary>
    public async Task<HashSet<(string Tenant, string Metric)>> MetricsOfAsync(IReadOnlyList<long> seriesIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(seriesIds);
        await using var command = dataSource.CreateCommand("select distinct tenant_id, name from metric_series where id = any($1)");
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. seriesIds] });
        var result = new HashSet<(string, string)>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
            result.Add((r.GetString(0), r.GetString(1)));
        return result;
    }

    private async Task<AlertEvaluation> EvaluateRulesAsync(IReadOnlyList<AlertRule> rules, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        int series = 0, changes = 0, firing = 0, pending = 0;
        foreach (var rule in rules)
        {
            var (steps, selected) = await StepsAsync(rule, now, cancellationToken);
            await store.ApplyAsync(rule, steps, cancellationToken);
            series += selected;
            changes += steps.Count(s => s.Changed);
            firing += steps.Count(s => s.Next?.State == AlertStates.Firing);
            pending += steps.Count(s => s.Next?.State == AlertStates.Pending);
        }

        return new AlertEvaluation(rules.Count, series, changes, firing, pending);
    }

    private async Task<(List<AlertStep> Steps, int Selected)> StepsAsync(AlertRule rule, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var instances = await store.InstancesAsync(rule.Id, cancellationToken);
        var current = VirtualMetrics.IsVirtual(rule.Metric)
            ? (await VirtualMetrics.ReadAsync(dataSource, rule, now, cancellationToken)).Select(v => (v.Series, (double?)v.Value)).ToList()
            : await StoredAsync(rule, now, cancellationToken);
        var steps = new List<AlertStep>();
        foreach (var (series, value) in current)
        {
            var fingerprint = Fingerprint(series);
            instances.Remove(fingerprint, out var existing);
            var step = AlertStateMachine.Step(rule, existing, fingerprint, Labels(rule, series), value, now);
            if (step.Next is not null || step.Changed)
                steps.Add(step);
        }

        // Instances whose series no longer exists or matches: no data is false.
        foreach (var (fingerprint, existing) in instances)
            steps.Add(AlertStateMachine.Step(rule, existing, fingerprint, existing.Labels, null, now));
        return (steps, current.Count);
    }

    /// <summary>The rule's series among the stored samples, each with its aggregate over the window (null: no sample).</summary>
    private async Task<List<(SeriesInfo Series, double? Value)>> StoredAsync(AlertRule rule, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var selected = await queries.SelectAsync(rule.TenantId, rule.Metric, rule.Matchers, MaxSeriesPerRule, cancellationToken);
        if (!selected.Succeeded)
        {
            LogUnusable(logger, rule.Id, rule.TenantId, selected.Failure!.Detail);
            return [];
        }

        var series = selected.Value!;
        if (series.Count == MaxSeriesPerRule)
            LogTooMany(logger, rule.Id, rule.TenantId, MaxSeriesPerRule);
        var values = series.Count == 0 ? [] : await AggregateAsync(rule, series.Select(s => s.Id).ToArray(), now, cancellationToken);
        return series.Select(s => (s, values.TryGetValue(s.Id, out var v) ? v : (double?)null)).ToList();
    }

    private async Task<Dictionary<long, double>> AggregateAsync(AlertRule rule, long[] seriesIds, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            select series_id, avg(value), max(value), min(value),
                   (array_agg(value order by ts desc))[1], (array_agg(value order by ts))[1], extract(epoch from max(ts) - min(ts))::float8
            from metric_samples where series_id = any($1) and ts > $2 and ts <= $3
            group by series_id
            """);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seriesIds });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now - rule.Window });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        var result = new Dictionary<long, double>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            double? value = rule.Aggregation switch
            {
                "avg" => r.GetDouble(1),
                "max" => r.GetDouble(2),
                "min" => r.GetDouble(3),
                "last" => r.GetDouble(4),
                // A rate needs two samples apart in time.
                _ => r.GetDouble(6) > 0 ? (r.GetDouble(4) - r.GetDouble(5)) / r.GetDouble(6) : null,
            };
            if (value is { } v && double.IsFinite(v))
                result[r.GetInt64(0)] = v;
        }

        return result;
    }

    /// <summary>An instance's identity within its rule: the agent and the series labels, canonical.</summary>
    public static string Fingerprint(SeriesInfo series)
    {
        ArgumentNullException.ThrowIfNull(series);
        return series.AgentId + "|" + string.Join(",", series.Labels.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value));
    }

    /// <summary>The instance's labels: the series', its agent, the rule's name and severity, then the rule's own labels.</summary>
    public static Dictionary<string, string> Labels(AlertRule rule, SeriesInfo series)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(series);
        var labels = new Dictionary<string, string>(series.Labels, StringComparer.Ordinal)
        {
            ["agent"] = series.AgentId,
            ["alertname"] = rule.Name,
            ["severity"] = rule.Severity,
        };
        foreach (var (k, v) in rule.Labels)
            labels[k] = v;
        return labels;
    }

    [LoggerMessage(EventId = 8000, Level = LogLevel.Warning, Message = "Alert rule {RuleId} of tenant {TenantId} cannot select series: {Detail}")]
    private static partial void LogUnusable(ILogger logger, string ruleId, string tenantId, string detail);

    [LoggerMessage(EventId = 8001, Level = LogLevel.Warning, Message = "Alert rule {RuleId} of tenant {TenantId} selects more than {Max} series; only the first are evaluated")]
    private static partial void LogTooMany(ILogger logger, string ruleId, string tenantId, int max);
}
