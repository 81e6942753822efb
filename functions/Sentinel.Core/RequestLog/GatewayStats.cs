using System.Globalization;
using System.Net;
using Npgsql;
using NpgsqlTypes;

namespace Sentinel.Core.RequestLog;

/// <summary>One time bucket of the gateway's traffic.</summary>
internal sealed record GatewayBucket(DateTimeOffset Time, long Requests, long Status2xx, long Status3xx, long Status4xx, long Status5xx, long RateLimited, double? P50Ms, double? P95Ms, double? P99Ms);

/// <summary>Totals over the whole window.</summary>
internal sealed record GatewayTotals(long Requests, double RequestsPerMinute, long Status2xx, long Status3xx, long Status4xx, long Status5xx, long RateLimited, double? P50Ms, double? P95Ms, double? P99Ms);

/// <summary>A route's share of the traffic.</summary>
internal sealed record GatewayRoute(string Method, string Route, long Requests, long Errors4xx, long Errors5xx, double? P95Ms);

/// <summary>A client address's share of the traffic.</summary>
internal sealed record GatewayClient(string Ip, long Requests, long RateLimited, long Errors4xx);

/// <summary>The answer of <c>GET /api/stats/gateway</c>.</summary>
internal sealed record GatewayStatsReport(DateTimeOffset From, DateTimeOffset To, int StepSeconds, GatewayTotals Totals, IReadOnlyList<GatewayBucket> Series, IReadOnlyList<GatewayRoute> TopRoutes, IReadOnlyList<GatewayClient> TopIps);

/// <summary>
/// The numbers the dashboard charts, from the request log, always for one tenant: requests per bucket by status
/// class, latency percentiles, 429s, the busiest routes and client addresses.
/// </summary>
internal sealed class GatewayStats(NpgsqlDataSource dataSource, TimeProvider time)
{
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(7);
    public static readonly TimeSpan MinStep = TimeSpan.FromSeconds(10);
    public const int MaxBuckets = 1_440;

    /// <summary>Parses <c>30s</c>, <c>15m</c>, <c>1h</c>, <c>7d</c>.</summary>
    public static bool TryParseDuration(string? value, out TimeSpan duration)
    {
        duration = default;
        if (value is null || value.Length is < 2 or > 8)
            return false;
        if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
            return false;
        duration = value[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            _ => default,
        };
        return duration > TimeSpan.Zero;
    }

    /// <summary>Why a window/step pair is refused, or null.</summary>
    public static string? Validate(TimeSpan window, TimeSpan step)
    {
        if (window > MaxWindow)
            return "window is at most 7d.";
        if (step < MinStep)
            return "step is at least 10s.";
        if (step > window)
            return "step is at most the window.";
        if (window.Ticks / step.Ticks > MaxBuckets)
            return $"window/step gives more than {MaxBuckets} buckets; take a larger step.";
        return null;
    }

    public async Task<GatewayStatsReport> QueryAsync(string tenantId, TimeSpan window, TimeSpan step, CancellationToken cancellationToken)
    {
        var to = time.GetUtcNow();
        var stepTicks = step.Ticks;
        var from = new DateTimeOffset((to - window).UtcTicks / stepTicks * stepTicks, TimeSpan.Zero);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

        // Buckets and the window's totals in one scan: the empty grouping set is the totals row (t is null), and it
        // exists even when there were no requests.
        var series = new Dictionary<DateTimeOffset, GatewayBucket>();
        GatewayTotals? totals = null;
        await using (var cmd = Command(connection, """
            select date_bin($4, ts, timestamptz 'epoch') as t, count(*),
                   count(*) filter (where status between 200 and 299), count(*) filter (where status between 300 and 399),
                   count(*) filter (where status between 400 and 499), count(*) filter (where status >= 500),
                   count(*) filter (where rate_limited),
                   percentile_cont(array[0.5, 0.95, 0.99]) within group (order by duration_ms)
            from request_log where tenant_id = $1 and ts >= $2 and ts < $3
            group by grouping sets ((1), ())
            """, tenantId, from, to, step))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
            {
                var n = r.GetInt64(1);
                var p = r.IsDBNull(7) ? null : r.GetFieldValue<double?[]>(7);
                if (r.IsDBNull(0))
                {
                    totals = new GatewayTotals(n, Math.Round(n / Math.Max(1.0 / 60, (to - from).TotalMinutes), 3), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6),
                        Round(p?[0]), Round(p?[1]), Round(p?[2]));
                    continue;
                }

                var t = r.GetFieldValue<DateTimeOffset>(0);
                series[t] = new GatewayBucket(t, n, r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetInt64(6), Round(p?[0]), Round(p?[1]), Round(p?[2]));
            }
        }

        var filled = new List<GatewayBucket>();
        for (var t = from; t < to; t += step)
            filled.Add(series.TryGetValue(t, out var b) ? b : new GatewayBucket(t, 0, 0, 0, 0, 0, 0, null, null, null));

        var routes = new List<GatewayRoute>();
        await using (var cmd = Command(connection, """
            select method, route, count(*), count(*) filter (where status between 400 and 499), count(*) filter (where status >= 500),
                   percentile_cont(0.95) within group (order by duration_ms)
            from request_log where tenant_id = $1 and ts >= $2 and ts < $3
            group by method, route order by count(*) desc, route limit 10
            """, tenantId, from, to))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
                routes.Add(new GatewayRoute(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), Round(r.GetDouble(5))));
        }

        var clients = new List<GatewayClient>();
        await using (var cmd = Command(connection, """
            select ip, count(*), count(*) filter (where rate_limited), count(*) filter (where status between 400 and 499)
            from request_log where tenant_id = $1 and ts >= $2 and ts < $3 and ip is not null
            group by ip order by count(*) desc, ip limit 10
            """, tenantId, from, to))
        await using (var r = await cmd.ExecuteReaderAsync(cancellationToken))
        {
            while (await r.ReadAsync(cancellationToken))
                clients.Add(new GatewayClient(r.GetFieldValue<IPAddress>(0).ToString(), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3)));
        }

        return new GatewayStatsReport(from, to, (int)step.TotalSeconds, totals!, filled, routes, clients);
    }

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 2) : null;

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, string tenantId, DateTimeOffset from, DateTimeOffset to, TimeSpan? step = null)
    {
        var command = new NpgsqlCommand(sql, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = from, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = to, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        if (step is { } s)
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = s, NpgsqlDbType = NpgsqlDbType.Interval });
        return command;
    }
}
