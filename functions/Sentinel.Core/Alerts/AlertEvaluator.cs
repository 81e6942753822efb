using System.Collections.Concurrent;
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

    /// <summary>How long the set of watched (tenant, metric) pairs is reused; other instances' rule writes are seen after this.</summary>
    public static readonly TimeSpan RuleMetricsTtl = TimeSpan.FromSeconds(5);

    /// <summary>The least time between two post-ingest evaluations of one tenant's rules on one metric.</summary>
    public static readonly TimeSpan MinTouchedInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a rule's series selection is reused (a new series joins its rule within this).</summary>
    public static readonly TimeSpan SelectionTtl = TimeSpan.FromSeconds(15);

    private const int MaxCachedSeries = 500_000;
    private readonly ConcurrentDictionary<string, (int Version, long At, IReadOnlyList<SeriesInfo> Series)> _selections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, (string Tenant, string Metric)> _seriesMetrics = new();
    private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Tenant, string Metric), long> _lastTouched = new();
    private (long At, HashSet<(string Tenant, string Metric)> Pairs)? _ruleMetrics;

    public async Task<AlertEvaluation> EvaluateAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await store.EnsureBuiltinsAsync(tenantId, cancellationToken);
        return await EvaluateRulesAsync(await store.EnabledAsync(tenantId, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Right after ingest: the rules of the tenants and metrics a stored batch touched, so an alert does not wait for the
    /// minute timer. Cheap when nothing is to do — which (tenant, metric) pairs have enabled rules is cached for
    /// <see cref="RuleMetricsTtl"/> (and dropped on this process's rule writes), and series ids map to their metric from
    /// memory — and coalesced under load: a (tenant, metric) evaluated less than <see cref="MinTouchedInterval"/> ago waits
    /// for the next batch (agents send every few seconds) or the timer. <c>for</c> counts from the first true evaluation
    /// either way.
    /// </summary>
    public async Task<AlertEvaluation> EvaluateTouchedAsync(IReadOnlyList<long> seriesIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(seriesIds);
        var none = new AlertEvaluation(0, 0, 0, 0, 0);
        if (seriesIds.Count == 0)
            return none;
        var ruleMetrics = await RuleMetricsAsync(cancellationToken);
        if (ruleMetrics.Count == 0)
            return none;
        var touched = await MetricsOfAsync(seriesIds, cancellationToken);
        touched.IntersectWith(ruleMetrics);
        var now = time.GetTimestamp();
        touched.RemoveWhere(pair => _lastTouched.TryGetValue(pair, out var last) && time.GetElapsedTime(last, now) < MinTouchedInterval);
        if (touched.Count == 0)
            return none;
        foreach (var pair in touched)
            _lastTouched[pair] = now;
        var rules = new List<AlertRule>();
        foreach (var tenant in touched.Select(t => t.Tenant).Distinct(StringComparer.Ordinal))
            rules.AddRange((await store.EnabledAsync(tenant, cancellationToken)).Where(r => touched.Contains((tenant, r.Metric))));
        return await EvaluateRulesAsync(rules, cancellationToken);
    }

    /// <summary>The (tenant, metric) pairs of some series: from memory (a series never changes tenant or name, and ids are
    /// never reused), the unknown ones in one query.</summary>
    public async Task<HashSet<(string Tenant, string Metric)>> MetricsOfAsync(IReadOnlyList<long> seriesIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(seriesIds);
        var result = new HashSet<(string, string)>();
        List<long>? missing = null;
        foreach (var id in seriesIds)
        {
            if (_seriesMetrics.TryGetValue(id, out var pair))
                result.Add(pair);
            else
                (missing ??= []).Add(id);
        }

        if (missing is null)
            return result;
        await using var command = dataSource.CreateCommand("select id, tenant_id, name from metric_series where id = any($1)");
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. missing] });
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            var pair = (_names.GetOrAdd(r.GetString(1), s => s), _names.GetOrAdd(r.GetString(2), s => s));
            result.Add(pair);
            if (_seriesMetrics.Count < MaxCachedSeries)
                _seriesMetrics[r.GetInt64(0)] = pair;
        }

        return result;
    }

    /// <summary>The (tenant, metric) pairs enabled stored-metric rules watch, cached briefly.</summary>
    private async Task<HashSet<(string Tenant, string Metric)>> RuleMetricsAsync(CancellationToken cancellationToken)
    {
        if (_ruleMetrics is { } cached && time.GetElapsedTime(cached.At) < RuleMetricsTtl)
            return cached.Pairs;
        var generation = store.Generation;
        var pairs = new HashSet<(string, string)>();
        await using var command = dataSource.CreateCommand($"select distinct tenant_id, metric from alert_rules where enabled and metric not like '{VirtualMetrics.Prefix}%'");
        await using (var r = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
                pairs.Add((r.GetString(0), r.GetString(1)));
        }

        // A rule written meanwhile by this process invalidates what was just read.
        _ruleMetrics = generation == store.Generation ? (time.GetTimestamp(), pairs) : null;
        return pairs;
    }

    private async Task<AlertEvaluation> EvaluateRulesAsync(IReadOnlyList<AlertRule> rules, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        int series = 0, changes = 0, firing = 0, pending = 0;
        foreach (var rule in rules)
        {
            var selected = 0;
            var steps = await store.EvaluateLockedAsync(rule, async instances =>
            {
                var (computed, count) = await StepsAsync(rule, instances, now, cancellationToken);
                selected = count;
                return computed;
            }, cancellationToken);
            if (steps is null)
                continue; // evaluated by another process at this moment
            series += selected;
            changes += steps.Count(s => s.Changed);
            firing += steps.Count(s => s.Next?.State == AlertStates.Firing);
            pending += steps.Count(s => s.Next?.State == AlertStates.Pending);
        }

        return new AlertEvaluation(rules.Count, series, changes, firing, pending);
    }

    private async Task<(List<AlertStep> Steps, int Selected)> StepsAsync(AlertRule rule, Dictionary<string, AlertInstance> instances, DateTimeOffset now, CancellationToken cancellationToken)
    {
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
        IReadOnlyList<SeriesInfo> series;
        if (_selections.TryGetValue(rule.Id, out var cached) && cached.Version == rule.Version && time.GetElapsedTime(cached.At) < SelectionTtl)
        {
            series = cached.Series;
        }
        else
        {
            var selected = await queries.SelectAsync(rule.TenantId, rule.Metric, rule.Matchers, MaxSeriesPerRule, cancellationToken);
            if (!selected.Succeeded)
            {
                LogUnusable(logger, rule.Id, rule.TenantId, selected.Failure!.Detail);
                return [];
            }

            series = selected.Value!;
            _selections[rule.Id] = (rule.Version, time.GetTimestamp(), series);
        }

        if (series.Count == MaxSeriesPerRule)
            LogTooMany(logger, rule.Id, rule.TenantId, MaxSeriesPerRule);
        var values = series.Count == 0 ? [] : await AggregateAsync(rule, series.Select(s => s.Id).ToArray(), now, cancellationToken);
        return series.Select(s => (s, values.TryGetValue(s.Id, out var v) ? v : (double?)null)).ToList();
    }

    private async Task<Dictionary<long, double>> AggregateAsync(AlertRule rule, long[] seriesIds, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // One statement per aggregation, each what the (series_id, ts) index answers best: plain aggregates over the
        // window's rows; the newest (and, for rate, the oldest) row per series by DISTINCT ON, without sorting values.
        const string Window = "from metric_samples where series_id = any($1) and ts > $2 and ts <= $3";
        var sql = rule.Aggregation switch
        {
            "avg" => $"select series_id, avg(value) {Window} group by series_id",
            "max" => $"select series_id, max(value) {Window} group by series_id",
            "min" => $"select series_id, min(value) {Window} group by series_id",
            "last" => $"select distinct on (series_id) series_id, value {Window} order by series_id, ts desc",
            _ => $"""
                select l.series_id, (l.value - f.value) / nullif(extract(epoch from l.ts - f.ts), 0)
                from (select distinct on (series_id) series_id, ts, value {Window} order by series_id, ts desc) l
                join (select distinct on (series_id) series_id, ts, value {Window} order by series_id, ts) f using (series_id)
                """,
        };
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seriesIds });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now - rule.Window });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        var result = new Dictionary<long, double>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            // A rate needs two samples apart in time (null otherwise).
            if (!r.IsDBNull(1) && r.GetDouble(1) is var v && double.IsFinite(v))
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
