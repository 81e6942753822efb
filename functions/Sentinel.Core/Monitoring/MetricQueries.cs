using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Identity;

namespace Sentinel.Core.Monitoring;

/// <summary>A label matcher as Prometheus writes them: <c>k=v</c>, <c>k!=v</c>, <c>k=~re</c>, <c>k!~re</c> (regexes anchored).</summary>
internal sealed record LabelMatcher(string Name, string Op, string Value)
{
    public static bool TryParse(string text, out LabelMatcher? matcher)
    {
        matcher = null;
        foreach (var op in new[] { "!=", "=~", "!~", "=" })
        {
            var i = text.IndexOf(op, StringComparison.Ordinal);
            if (i <= 0)
                continue;
            // "a!=b" also contains "=" at i+1; the longer operators are tried first and must start at the first '=' or '!'.
            var first = text.IndexOfAny(['=', '!']);
            if (i != first)
                continue;
            var name = text[..i];
            if (!MetricRules.IsLabelName(name) || text.Length - i - op.Length > MetricRules.MaxLabelValueLength)
                return false;
            matcher = new LabelMatcher(name, op, text[(i + op.Length)..]);
            return true;
        }

        return false;
    }
}

/// <summary>A series as the API shows it.</summary>
internal sealed record SeriesInfo(long Id, string AgentId, string Name, IReadOnlyDictionary<string, string> Labels);

/// <summary>One series of a range query's answer.</summary>
internal sealed record SeriesPoints(SeriesInfo Series, IReadOnlyList<(long Time, double Value)> Points);

/// <summary>A range query's answer: which resolution answered, the step, and the series.</summary>
internal sealed record RangeResult(string Resolution, int StepSeconds, DateTimeOffset From, DateTimeOffset To, IReadOnlyList<SeriesPoints> Series);

/// <summary>The aggregations a range query offers over each step.</summary>
internal static class Aggregations
{
    public static readonly IReadOnlyList<string> All = ["avg", "min", "max", "sum", "count", "last"];
}

/// <summary>
/// Reads metrics, always inside one tenant: the series catalogue, and range queries that pick their resolution by range
/// and age — raw samples up to 6 hours (within raw retention), 1-minute roll-ups up to 8 days, 1-hour roll-ups beyond —
/// bucketed by <c>step</c> with an aggregation. At most 11,000 points per series (Prometheus's bound).
/// </summary>
internal sealed class MetricQueries(NpgsqlDataSource dataSource, MonitoringOptions options, TimeProvider time)
{
    public const int MaxPointsPerSeries = 11_000;
    public const int MaxSeriesList = 5_000;
    public static readonly TimeSpan RawUpTo = TimeSpan.FromHours(6);
    public static readonly TimeSpan MinuteUpTo = TimeSpan.FromDays(8);

    public async Task<Outcome<IReadOnlyList<SeriesInfo>>> SeriesAsync(string tenantId, string? metric, string? agentId, IReadOnlyList<string> matchers,
        int limit, CancellationToken cancellationToken)
    {
        if (metric is not null && !MetricRules.IsMetricName(metric))
            return Invalid("metric", "A metric name matches [a-z][a-z0-9_.]*, e.g. cpu.usage.");
        var parsed = ParseMatchers(matchers);
        if (!parsed.Succeeded)
            return parsed.Failure!;
        return await SelectSeriesAsync(tenantId, metric, agentId, parsed.Value!, Math.Clamp(limit, 1, MaxSeriesList), cancellationToken);
    }

    public async Task<Outcome<RangeResult>> RangeAsync(string tenantId, string? metric, string? agentId, IReadOnlyList<string> matchers,
        DateTimeOffset? from, DateTimeOffset? to, int? stepSeconds, string? aggregation, CancellationToken cancellationToken)
    {
        if (metric is null || !MetricRules.IsMetricName(metric))
            return Invalid("metric", "metric is required: a metric name such as cpu.usage.");
        var agg = aggregation ?? "avg";
        if (!Aggregations.All.Contains(agg))
            return Invalid("agg", $"agg is one of {string.Join(", ", Aggregations.All)}.");
        var now = time.GetUtcNow();
        var end = to ?? now;
        var start = from ?? end.AddHours(-1);
        if (start >= end)
            return Invalid("from", "from must be before to.");
        var parsed = ParseMatchers(matchers);
        if (!parsed.Succeeded)
            return parsed.Failure!;

        var range = end - start;
        var (table, resolution, floor) = range <= RawUpTo && start >= now - options.RawRetention
            ? (MetricStorage.Samples, "raw", 1)
            : range <= MinuteUpTo ? (MetricStorage.Rollup1m, "1m", 60) : (MetricStorage.Rollup1h, "1h", 3600);
        var step = stepSeconds ?? Math.Max(floor, (int)Math.Ceiling(range.TotalSeconds / 300));
        if (step < 1 || step > 31 * 86400)
            return Invalid("step", "step is 1 second to 31 days.");
        step = Math.Max(step, floor);
        if (range.TotalSeconds / step > MaxPointsPerSeries)
            return Invalid("step", $"That range at that step is more than {MaxPointsPerSeries} points per series; use a larger step.");

        var series = await SelectSeriesAsync(tenantId, metric, agentId, parsed.Value!, options.MaxQuerySeries + 1, cancellationToken);
        if (!series.Succeeded)
            return series.Failure!;
        if (series.Value!.Count > options.MaxQuerySeries)
            return Invalid("match", $"The query selects more than {options.MaxQuerySeries} series; narrow it with agent or label matchers.");
        if (series.Value.Count == 0)
            return new RangeResult(resolution, step, start, end, []);

        // Raw samples aggregate their values; roll-ups combine their own aggregates.
        var raw = table == MetricStorage.Samples;
        var timeColumn = raw ? "ts" : "bucket";
        var expression = agg switch
        {
            "avg" => raw ? "avg(value)" : "sum(sum) / nullif(sum(count), 0)",
            "min" => raw ? "min(value)" : "min(min)",
            "max" => raw ? "max(value)" : "max(max)",
            "sum" => raw ? "sum(value)" : "sum(sum)",
            "count" => raw ? "count(*)::float8" : "sum(count)::float8",
            _ => raw ? "(array_agg(value order by ts desc))[1]" : "(array_agg(last order by bucket desc))[1]",
        };
        await using var command = dataSource.CreateCommand($"""
            select series_id, extract(epoch from date_bin(make_interval(secs => $4), {timeColumn}, timestamptz '1970-01-01 00:00:00+00'))::bigint, {expression}
            from {table}
            where series_id = any($1) and {timeColumn} >= $2 and {timeColumn} < $3
            group by 1, 2 order by 1, 2
            """);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = series.Value.Select(s => s.Id).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = start });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = end });
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = step });
        var points = series.Value.ToDictionary(s => s.Id, _ => new List<(long, double)>());
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (!reader.IsDBNull(2))
                    points[reader.GetInt64(0)].Add((reader.GetInt64(1), reader.GetDouble(2)));
            }
        }

        return new RangeResult(resolution, step, start, end, series.Value.Select(s => new SeriesPoints(s, points[s.Id])).ToList());
    }

    /// <summary>The series of one metric a tenant has that match <paramref name="matchers"/> (at most <paramref name="limit"/>),
    /// as alert rules select them.</summary>
    public async Task<Outcome<IReadOnlyList<SeriesInfo>>> SelectAsync(string tenantId, string metric, IReadOnlyList<string> matchers, int limit, CancellationToken cancellationToken)
    {
        var parsed = ParseMatchers(matchers);
        return parsed.Succeeded ? await SelectSeriesAsync(tenantId, metric, null, parsed.Value!, limit, cancellationToken) : parsed.Failure!;
    }

    private async Task<Outcome<IReadOnlyList<SeriesInfo>>> SelectSeriesAsync(string tenantId, string? metric, string? agentId, IReadOnlyList<LabelMatcher> matchers,
        int limit, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("select id, agent_id, name, labels from metric_series where tenant_id = $1");
        var command = dataSource.CreateCommand();
        await using var _ = command;
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        if (metric is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = metric });
            sql.Append(CultureInfo.InvariantCulture, $" and name = ${command.Parameters.Count}");
        }

        if (agentId is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = agentId });
            sql.Append(CultureInfo.InvariantCulture, $" and agent_id = ${command.Parameters.Count}");
        }

        foreach (var m in matchers)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.Name });
            var n = command.Parameters.Count;
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = m.Value });
            var v = command.Parameters.Count;
            // A missing label reads as "" (as in Prometheus), so k="" and k!="" select by absence and presence.
                var op = m.Op switch
            {
                "=" => "=",
                "!=" => "<>",
                "=~" => "~",
                _ => "!~",
            };
            var right = m.Op.EndsWith('~') ? $"('^(?:' || ${v} || ')$')" : $"${v}";
            sql.Append(CultureInfo.InvariantCulture, $" and coalesce(labels ->> ${n}, '') {op} {right}");
        }

        sql.Append(CultureInfo.InvariantCulture, $" order by name, agent_id, labels_key limit {limit}");
        command.CommandText = sql.ToString();
        List<SeriesInfo> list = [];
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                list.Add(new SeriesInfo(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                    JsonSerializer.Deserialize(reader.GetString(3), LabelsJsonContext.Default.DictionaryStringString) ?? []));
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidRegularExpression)
        {
            return Invalid("match", "A label matcher's regular expression is not valid: " + ex.MessageText);
        }

        return new Outcome<IReadOnlyList<SeriesInfo>>(list, null);
    }

    private static Outcome<IReadOnlyList<LabelMatcher>> ParseMatchers(IReadOnlyList<string> matchers)
    {
        if (matchers.Count > MetricRules.MaxLabels)
            return Invalid("match", $"At most {MetricRules.MaxLabels} label matchers.");
        var list = new List<LabelMatcher>();
        foreach (var text in matchers)
        {
            if (!LabelMatcher.TryParse(text, out var m))
                return Invalid("match", $"'{(text.Length > 60 ? text[..60] + "…" : text)}' is not a label matcher; write name=value, name!=value, name=~regex or name!~regex.");
            list.Add(m!);
        }

        return new Outcome<IReadOnlyList<LabelMatcher>>(list, null);
    }

    private static Failure Invalid(string parameter, string detail) => new(FailureKind.Invalid, "validation-failed", $"Invalid {parameter}", detail);
}
