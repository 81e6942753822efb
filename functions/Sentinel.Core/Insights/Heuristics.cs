using System.Globalization;
using Microsoft.Extensions.Logging;
using Npgsql;
using Sentinel.Core.RateLimiting;

namespace Sentinel.Core.Insights;

/// <summary>What one heuristics pass did.</summary>
internal sealed record HeuristicsReport(int Insights, int Resolved, int Blocked, int SeriesChecked);

/// <summary>
/// The <c>heuristics</c> timer's work, every minute, over the request log, the metrics and the relay (docs/insights.md):
/// brute force (≥ 5 failed sign-ins per IP and account in 10 minutes → the IP blocked from the sign-in routes through
/// <see cref="AuthBlocks"/>), floods (overall and per IP), 5xx spikes and p95 regressions against the same hour on the
/// last 7 days, metric anomalies on 1-minute roll-ups (robust z; seasonal once a day of history exists), and the chatbot
/// stack (an Evolution instance connected but silent, a growing relay backlog, a target that keeps failing). One pass at
/// a time across processes (a non-waiting advisory lock); what it finds is recorded as <see cref="InsightDraft"/>s.
/// </summary>
internal sealed partial class Heuristics(NpgsqlDataSource dataSource, AuthBlocks blocks, TimeProvider time, ILogger<Heuristics> logger)
{
    /// <summary>The sign-in route whose failures count.</summary>
    public const string LoginRoute = "/api/auth/token";

    /// <summary>Series checked for anomalies per pass, the busiest tenants' first (bounds a pass's cost).</summary>
    public const int MaxSeriesPerPass = 20_000;

    public async Task<HeuristicsReport> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        await using (var take = new NpgsqlCommand("select pg_try_advisory_xact_lock(hashtext('sentinel.heuristics'))", conn, tx))
        {
            if (await take.ExecuteScalarAsync(cancellationToken) is not true)
                return new HeuristicsReport(0, 0, 0, 0);
        }

        var drafts = new List<InsightDraft>();
        var blocked = await BruteForceAsync(conn, tx, now, drafts, cancellationToken);
        var minute = Minute(now) - TimeSpan.FromMinutes(1);
        await RollUpTrafficAsync(conn, tx, minute, cancellationToken);
        await TrafficAsync(conn, tx, minute, drafts, cancellationToken);
        var series = await AnomaliesAsync(conn, tx, minute, drafts, cancellationToken);
        await ChatbotStackAsync(conn, tx, now, drafts, cancellationToken);
        var (recorded, resolved) = await InsightStore.ApplyAsync(conn, tx, drafts, now, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        if (recorded > 0 || resolved > 0)
            LogPass(logger, recorded, resolved, blocked);
        return new HeuristicsReport(recorded, resolved, blocked, series);
    }

    private static DateTimeOffset Minute(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);

    // ------------------------------------------------------------------ brute force

    private async Task<int> BruteForceAsync(NpgsqlConnection conn, NpgsqlTransaction tx, DateTimeOffset now, List<InsightDraft> drafts, CancellationToken ct)
    {
        var offenders = new List<(string Ip, string Account, int Failures, DateTimeOffset First, DateTimeOffset Last)>();
        await using (var command = new NpgsqlCommand(
            "select host(ip), account, count(*)::int, min(ts), max(ts) from request_log where ts >= $1 and ts <= $2 and route = $3 " +
            "and account is not null and ip is not null group by ip, account having count(*) >= $4 order by count(*) desc limit 1000", conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now - BruteForce.Window });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = LoginRoute });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BruteForce.MaxFailures });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                offenders.Add((r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetFieldValue<DateTimeOffset>(3), r.GetFieldValue<DateTimeOffset>(4)));
        }

        var count = 0;
        foreach (var ip in offenders.GroupBy(o => o.Ip, StringComparer.Ordinal))
        {
            // An IP already blocked is left alone: its failures earned the block it has (BlockAsync answers null), and
            // while blocked it cannot fail again; when the block ends, those failures are older than the window.
            if (await blocks.BlockAsync(ip.Key, ct) is not { } block)
                continue;
            count++;
            var accounts = ip.OrderByDescending(o => o.Failures).ToList();
            var failures = accounts.Sum(a => a.Failures);
            var until = now + block.Block;
            var which = block.Strike == 1 ? "first offence" : $"offence {block.Strike.ToString(CultureInfo.InvariantCulture)} this week";
            var names = string.Join(", ", accounts.Take(3).Select(a => $"{a.Account} ({a.Failures.ToString(CultureInfo.InvariantCulture)}×)"));
            drafts.Add(new InsightDraft(null, InsightKinds.BruteForce, "ip:" + ip.Key, block.Strike >= 3 ? "critical" : "warning",
                $"Brute force from {ip.Key}",
                string.Create(CultureInfo.InvariantCulture,
                    $"{ip.Key} failed to sign in {failures} times in {BruteForce.Window.TotalMinutes:0} minutes as {names}{(accounts.Count > 3 ? $" and {accounts.Count - 3} more" : "")}; " +
                    $"it is blocked from the sign-in routes for {Human(block.Block)}, until {until:HH:mm} UTC ({which})."),
                "Nothing to do if you do not know this address: the block lifts by itself, and doubles if it comes back. If it is one of your users, ask them to reset their password.",
                new Dictionary<string, double>
                {
                    ["failures"] = failures, ["accounts"] = accounts.Count, ["blockSeconds"] = block.Block.TotalSeconds, ["strike"] = block.Strike,
                    ["threshold"] = BruteForce.MaxFailures, ["windowSeconds"] = BruteForce.Window.TotalSeconds,
                },
                accounts.Min(a => a.First), until));
        }

        return count;
    }

    // ------------------------------------------------------------------ gateway traffic

    /// <summary>Rolls the request log up into per-minute rows (overall, with zero rows for silent minutes, and per busy
    /// IP) for the closed minutes since the last roll-up, at most the last 10.</summary>
    private static async Task RollUpTrafficAsync(NpgsqlConnection conn, NpgsqlTransaction tx, DateTimeOffset lastClosed, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            """
            with span as (
                select greatest(coalesce((select max(minute) + interval '1 minute' from gateway_minutes where scope = '*'), $1 - interval '9 minutes'), $1 - interval '9 minutes') as lo,
                       $1 + interval '1 minute' as hi),
            overall as (
                insert into gateway_minutes (minute, scope, requests, errors, p95_ms)
                select m.minute, '*', coalesce(t.requests, 0), coalesce(t.errors, 0), t.p95
                from span, generate_series(span.lo, $1, interval '1 minute') as m(minute)
                left join (select date_trunc('minute', ts) as minute, count(*)::int as requests, (count(*) filter (where status >= 500))::int as errors,
                                  percentile_cont(0.95) within group (order by duration_ms)::real as p95
                           from request_log, span where ts >= span.lo and ts < span.hi group by 1) t on t.minute = m.minute
                on conflict do nothing returning 1)
            insert into gateway_minutes (minute, scope, requests, errors, p95_ms)
            select date_trunc('minute', ts), host(ip), count(*)::int, (count(*) filter (where status >= 500))::int, null
            from request_log, span where ts >= span.lo and ts < span.hi and ip is not null
            group by 1, 2 having count(*) >= $2
            on conflict do nothing
            """, conn, tx);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = lastClosed });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = TrafficRules.IpRollupMinRequests });
        await command.ExecuteNonQueryAsync(ct);
        await using var purge = new NpgsqlCommand("delete from gateway_minutes where minute < $1", conn, tx);
        purge.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = lastClosed.AddDays(-(Detectors.SeasonalDays + 1)) });
        await purge.ExecuteNonQueryAsync(ct);
    }

    private static async Task TrafficAsync(NpgsqlConnection conn, NpgsqlTransaction tx, DateTimeOffset minute, List<InsightDraft> drafts, CancellationToken ct)
    {
        var windows = Detectors.SameHourWindows(minute);
        var rows = new List<(string Scope, DateTimeOffset Minute, int Requests, int Errors, double? P95)>();
        await using (var command = new NpgsqlCommand(
            "select g.scope, g.minute, g.requests, g.errors, g.p95_ms from gateway_minutes g " +
            "where (g.minute = $1 or exists (select 1 from unnest($2::timestamptz[], $3::timestamptz[]) w(lo, hi) where g.minute >= w.lo and g.minute < w.hi)) " +
            "and (g.scope = '*' or g.scope in (select scope from gateway_minutes where minute = $1))", conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = minute });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. windows.Select(w => w.From)] });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. windows.Select(w => w.To)] });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                rows.Add((r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetInt32(2), r.GetInt32(3), r.IsDBNull(4) ? null : r.GetFloat(4)));
        }

        var overallHistory = rows.Where(x => x.Scope == "*" && x.Minute != minute).ToList();
        var daysWithData = overallHistory.Select(x => x.Minute.Date).Distinct().Count();
        var label = $"the minute to {minute.AddMinutes(1):HH:mm} UTC";
        foreach (var current in rows.Where(x => x.Minute == minute))
        {
            var overall = current.Scope == "*";
            var history = rows.Where(x => x.Scope == current.Scope && x.Minute != minute).Select(x => x.Requests / 60.0).ToList();
            if (!overall)
                history.AddRange(Enumerable.Repeat(0.0, Math.Max(0, (daysWithData * 60) - history.Count))); // an IP's quiet minutes
            var rps = current.Requests / 60.0;
            var flood = TrafficRules.Flood(rps, history.ToArray(), overall);
            if (flood.Flagged)
            {
                var who = overall ? "All requests" : $"Requests from {current.Scope}";
                drafts.Add(new InsightDraft(null, InsightKinds.Flood, overall ? "overall" : "ip:" + current.Scope, overall || rps > 5 * flood.Threshold ? "critical" : "warning",
                    overall ? "Request flood" : $"Request flood from {current.Scope}",
                    string.Create(CultureInfo.InvariantCulture,
                        $"{who} ran at {rps:0.0}/s in {label}, against a usual {flood.Baseline:0.0}/s at this hour over the last {Math.Max(1, daysWithData)} days (threshold {flood.Threshold:0.0}/s)."),
                    overall
                        ? "Check the top IPs and routes on the gateway page; tighten the anonymous or API rate-limit policy if one client dominates."
                        : "If it is not a client you know, lower its rate-limit policy or block it at your firewall.",
                    Evidence(flood, current.Requests), minute, minute.AddMinutes(1)));
            }

            if (!overall)
                continue;
            var ratioHistory = overallHistory.Where(x => x.Requests >= TrafficRules.MinRequestsForBaseline).Select(x => (double)x.Errors / x.Requests).ToArray();
            var spike = TrafficRules.ErrorSpike(current.Requests, current.Errors, ratioHistory);
            var ratio = spike.Value;
            if (spike.Flagged)
            {
                drafts.Add(new InsightDraft(null, InsightKinds.ErrorSpike, "overall", ratio >= 0.25 ? "critical" : "warning", "Error spike",
                    string.Create(CultureInfo.InvariantCulture,
                        $"{ratio:P1} of requests failed with 5xx ({current.Errors} of {current.Requests}) in {label}, against a usual {spike.Baseline:P1} at this hour."),
                    "Check /api/health and the function app's logs for the failing routes; a dependency (PostgreSQL, Redis, storage) is the usual cause.",
                    Evidence(spike, current.Requests), minute, minute.AddMinutes(1)));
            }

            if (current.P95 is { } p95)
            {
                var latencyHistory = overallHistory.Where(x => x.P95 is not null && x.Requests >= TrafficRules.MinRequestsForBaseline).Select(x => x.P95!.Value).ToArray();
                var slow = TrafficRules.Latency(p95, current.Requests, latencyHistory);
                if (slow.Flagged)
                {
                    drafts.Add(new InsightDraft(null, InsightKinds.Latency, "overall", p95 >= 4 * Math.Max(slow.Baseline, 1) ? "critical" : "warning", "Latency regression",
                        string.Create(CultureInfo.InvariantCulture,
                            $"p95 latency was {p95:0} ms over {current.Requests} requests in {label}, against a usual {slow.Baseline:0} ms at this hour (threshold {slow.Threshold:0} ms)."),
                        "Compare with PostgreSQL and Redis latency on /api/health; a cold start or a slow dependency shows here first.",
                        Evidence(slow, current.Requests), minute, minute.AddMinutes(1)));
                }
            }
        }
    }

    private static Dictionary<string, double> Evidence(Verdict v, int requests) => new()
    {
        ["observed"] = Round(v.Value), ["baseline"] = Round(v.Baseline), ["sigma"] = Round(v.Scale), ["threshold"] = Round(v.Threshold), ["requests"] = requests,
    };

    private static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 4) : 0;

    // ------------------------------------------------------------------ metric anomalies

    private static async Task<int> AnomaliesAsync(NpgsqlConnection conn, NpgsqlTransaction tx, DateTimeOffset minute, List<InsightDraft> drafts, CancellationToken ct)
    {
        var current = new Dictionary<long, (double Value, string Tenant, string Name, string Labels, string Agent)>();
        await using (var command = new NpgsqlCommand(
            "select r.series_id, r.sum / r.count, s.tenant_id, s.name, s.labels_key, coalesce(a.name, s.agent_id) from metric_rollup_1m r " +
            "join metric_series s on s.id = r.series_id left join agents a on a.id = s.agent_id where r.bucket = $1 and r.count > 0 limit $2", conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = minute });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = MaxSeriesPerPass });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                current[r.GetInt64(0)] = (r.GetDouble(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5));
        }

        if (current.Count == 0)
            return 0;
        var ids = current.Keys.ToArray();
        var seasonal = await HistoryAsync(conn, tx, ids, Detectors.SeasonalWindows(minute), ct);
        var recent = await HistoryAsync(conn, tx, ids, [(minute - Detectors.RecentWindow, minute)], ct);
        foreach (var (id, c) in current)
        {
            // Seasonal once a day of history exists (enough points at this time on earlier days), else the last hour.
            var (v, isSeasonal, points) = Detectors.AnomalyOf(c.Value, seasonal.GetValueOrDefault(id, []).ToArray(), recent.GetValueOrDefault(id, []).ToArray());
            if (!v.Flagged)
                continue;
            var series = c.Labels.Length > 0 ? $"{c.Name}{{{c.Labels}}}" : c.Name;
            var direction = v.Score > 0 ? "above" : "below";
            drafts.Add(new InsightDraft(c.Tenant, InsightKinds.Anomaly, "series:" + id.ToString(CultureInfo.InvariantCulture), Math.Abs(v.Score) >= 3 * Detectors.AnomalyZ ? "warning" : "info",
                $"{c.Name} unusual on {c.Agent}",
                string.Create(CultureInfo.InvariantCulture,
                    $"{series} on {c.Agent} averaged {v.Value:0.###} in the minute to {minute.AddMinutes(1):HH:mm} UTC, {direction} its usual {v.Baseline:0.###} ± {v.Scale:0.###} " +
                    $"{(isSeasonal ? "at this time of day" : "over the last hour")} (robust z {v.Score:0.0})."),
                "Open the agent's chart around this time; if it is expected (a deploy, a backup), nothing to do — the insight resolves when the series is back.",
                new Dictionary<string, double>
                {
                    ["observed"] = Round(v.Value), ["baseline"] = Round(v.Baseline), ["sigma"] = Round(v.Scale), ["z"] = Round(v.Score), ["threshold"] = Detectors.AnomalyZ,
                    ["seasonal"] = isSeasonal ? 1 : 0, ["history"] = points,
                },
                minute, minute.AddMinutes(1)));
        }

        return current.Count;
    }

    private static async Task<Dictionary<long, List<double>>> HistoryAsync(NpgsqlConnection conn, NpgsqlTransaction tx, long[] ids,
        IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> windows, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "select r.series_id, r.sum / r.count from metric_rollup_1m r join unnest($2::timestamptz[], $3::timestamptz[]) w(lo, hi) on r.bucket >= w.lo and r.bucket < w.hi " +
            "where r.series_id = any($1) and r.count > 0 order by r.series_id, r.bucket", conn, tx);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = ids });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. windows.Select(w => w.From)] });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. windows.Select(w => w.To)] });
        var map = new Dictionary<long, List<double>>();
        await using var r = await command.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var id = r.GetInt64(0);
            if (!map.TryGetValue(id, out var list))
                map[id] = list = [];
            list.Add(r.GetDouble(1));
        }

        return map;
    }

    // ------------------------------------------------------------------ the chatbot stack

    private static async Task ChatbotStackAsync(NpgsqlConnection conn, NpgsqlTransaction tx, DateTimeOffset now, List<InsightDraft> drafts, CancellationToken ct)
    {
        var hours = Detectors.SameHourWindows(Minute(now));
        // Evolution instances that say they are connected, their last inbound message and their usual traffic at this hour.
        await using (var command = new NpgsqlCommand(
            """
            select i.tenant_id, i.instance,
                   (select max(m.received_at) from relay_messages m where m.tenant_id = i.tenant_id and m.instance = i.instance and m.direction = 'inbound' and m.received_at > $1 - interval '8 days'),
                   (select count(*) from relay_messages m join unnest($2::timestamptz[], $3::timestamptz[]) w(lo, hi) on m.received_at >= w.lo and m.received_at < w.hi
                    where m.tenant_id = i.tenant_id and m.instance = i.instance and m.direction = 'inbound')::int,
                   (select count(distinct date_trunc('day', m.received_at)) from relay_messages m where m.tenant_id = i.tenant_id and m.instance = i.instance and m.received_at > $1 - interval '7 days')::int
            from relay_instances i where i.state = 'open'
            """, conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. hours.Select(w => w.From)] });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. hours.Select(w => w.To)] });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                if (r.IsDBNull(2))
                    continue;
                var (tenant, instance, last, sameHour, days) = (r.GetString(0), r.GetString(1), r.GetFieldValue<DateTimeOffset>(2), r.GetInt32(3), Math.Max(1, r.GetInt32(4)));
                var perHour = (double)sameHour / Math.Min(days, Detectors.SeasonalDays);
                var silent = now - last;
                var expectedGap = TimeSpan.FromMinutes(Math.Max(30, 3 * 60 / Math.Max(perHour, 0.01)));
                if (perHour < 6 || silent < expectedGap)
                    continue;
                drafts.Add(new InsightDraft(tenant, InsightKinds.EvolutionSilent, "instance:" + instance, "warning", $"Evolution instance {instance} is silent",
                    string.Create(CultureInfo.InvariantCulture,
                        $"Evolution instance {instance} is connected but has delivered no customer message for {Human(silent)}; it usually delivers {perHour:0} an hour at this time."),
                    "Check the instance in Evolution's manager (a stale session often still reports 'open') and that its webhook still points at the relay.",
                    new Dictionary<string, double> { ["silentSeconds"] = Math.Round(silent.TotalSeconds), ["usualPerHour"] = Round(perHour), ["expectedGapSeconds"] = expectedGap.TotalSeconds },
                    last, now));
            }
        }

        // Backlog growth per tenant: pending now against pending ten minutes ago.
        await using (var command = new NpgsqlCommand(
            """
            select tenant_id, count(*) filter (where state = 'pending')::int,
                   count(*) filter (where created_at <= $2 and (delivered_at is null or delivered_at > $2) and (dead_at is null or dead_at > $2))::int,
                   coalesce((select string_agg(target || ': ' || n, ', ' order by n desc) from (select target, count(*) n from relay_deliveries x where x.tenant_id = d.tenant_id and x.state = 'pending' group by target) t), '')
            from relay_deliveries d where state = 'pending' or (created_at <= $2 and coalesce(delivered_at, dead_at, $1) > $2)
            group by tenant_id
            """, conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.AddMinutes(-10) });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var (tenant, pending, before, byTarget) = (r.GetString(0), r.GetInt32(1), r.GetInt32(2), r.GetString(3));
                if (pending < 100 || pending < (2 * before) + 50)
                    continue;
                drafts.Add(new InsightDraft(tenant, InsightKinds.RelayBacklog, "backlog", pending >= 1000 ? "critical" : "warning", "Relay backlog growing",
                    string.Create(CultureInfo.InvariantCulture, $"The relay's backlog grew from {before} to {pending} pending deliveries in 10 minutes ({byTarget})."),
                    "Look at the failing target on the relay page: deliveries wait for it (in order) and are all sent once it answers.",
                    new Dictionary<string, double> { ["pending"] = pending, ["pendingBefore"] = before }, now.AddMinutes(-10), now));
            }
        }

        // Targets whose recent attempts nearly all failed.
        await using (var command = new NpgsqlCommand(
            """
            select d.tenant_id, d.instance, d.target, count(*)::int, (count(*) filter (where a.status is null or a.status not between 200 and 299))::int,
                   (array_agg(coalesce(a.error, 'HTTP ' || a.status) order by a.at desc))[1]
            from relay_attempts a join relay_deliveries d on d.id = a.delivery_id
            where a.at >= $1 group by 1, 2, 3
            """, conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.AddMinutes(-15) });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var (tenant, instance, target, attempts, failed, last) = (r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetInt32(4), r.IsDBNull(5) ? "" : r.GetString(5));
                if (attempts < 5 || failed < 0.9 * attempts)
                    continue;
                drafts.Add(new InsightDraft(tenant, InsightKinds.TargetFailing, $"target:{instance}/{target}", failed == attempts ? "critical" : "warning", $"{target} of {instance} keeps failing",
                    string.Create(CultureInfo.InvariantCulture, $"{target} of {instance} failed {failed} of its last {attempts} attempts in 15 minutes (last: {Cut(last, 200)})."),
                    "Check that the target is up and its URL and credentials in the relay route are right; deliveries are retried and none is lost meanwhile.",
                    new Dictionary<string, double> { ["attempts"] = attempts, ["failed"] = failed }, now.AddMinutes(-15), now));
            }
        }
    }

    private static string Cut(string s, int max) => s.Length <= max ? s : s[..max] + "…";

    /// <summary>A duration as people say it: 10 minutes, 2 hours 40 minutes, 7 days.</summary>
    public static string Human(TimeSpan d) =>
        d.TotalDays >= 1 ? $"{Math.Round(d.TotalDays):0} day{(Math.Round(d.TotalDays) == 1 ? "" : "s")}"
        : d.TotalHours >= 1 ? $"{(int)d.TotalHours} hour{((int)d.TotalHours == 1 ? "" : "s")}{(d.Minutes > 0 ? $" {d.Minutes} minutes" : "")}"
        : $"{Math.Max(1, (int)Math.Round(d.TotalMinutes))} minute{((int)Math.Round(d.TotalMinutes) == 1 ? "" : "s")}";

    [LoggerMessage(EventId = 8100, Level = LogLevel.Information, Message = "Heuristics: {Recorded} insights recorded, {Resolved} resolved, {Blocked} IPs blocked")]
    private static partial void LogPass(ILogger logger, int recorded, int resolved, int blocked);
}
