using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Sentinel.Core.Insights;
using Sentinel.Core.Monitoring;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Tests.Gateway;
using Sentinel.Functions.Tests.Relay;
using Sentinel.TestSupport;

namespace Sentinel.Functions.Tests.Insights;

/// <summary>
/// The heuristics over the real app (PostgreSQL, Redis) on a manual clock, with the timers replaced by recorders and
/// one pass run by the test: brute force through real failed sign-ins (and the block they earn, over HTTP), traffic,
/// metric and chatbot-stack data seeded as the request log, roll-ups and relay leave them; the insights API and the
/// status summary.
/// </summary>
public sealed class HeuristicsTests : IAsyncLifetime
{
    // Half a minute into a minute, as the timer runs (:30).
    private readonly ManualClock _clock = new(Truncate(TimeProvider.System.GetUtcNow()).AddSeconds(30));
    private SentinelTestHost _host = null!;

    private static DateTimeOffset Truncate(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);

    public async Task InitializeAsync() => _host = await SentinelTestHost.StartAsync(HostMode.Standalone, ManualTime.Services(_clock),
        new Dictionary<string, string> { ["RateLimiting:TrustForwardedFor"] = "true" });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<HeuristicsReport> RunAsync() => _host.Services.GetRequiredService<Heuristics>().RunAsync(CancellationToken.None);

    private async Task ExecAsync(string sql, params object[] args)
    {
        await using var command = _host.Database!.DataSource.CreateCommand(sql);
        foreach (var a in args)
            command.Parameters.Add(a is DateTimeOffset d ? new NpgsqlParameter<DateTimeOffset> { TypedValue = d } : new NpgsqlParameter { Value = a });
        await command.ExecuteNonQueryAsync();
    }

    private async Task<(HttpStatusCode Status, HttpResponseMessage Response)> LoginAsync(string email, string password, string ip)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/token") { Content = JsonContent.Create(new { email, password }) };
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", ip);
        var response = await _host.Client.SendAsync(request);
        return (response.StatusCode, response);
    }

    private async Task<List<JsonElement>> InsightsAsync(string auth, string query = "")
    {
        var (status, page, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/insights" + query, null, auth);
        Assert.Equal(HttpStatusCode.OK, status);
        return page.GetProperty("insights").EnumerateArray().ToList();
    }

    [Fact]
    public async Task FiveFailedSignIns_BlockTheIpOnTheSignInRoutesWithinOnePass_AndOwnersSeeWhy()
    {
        var email = GatewayClient.Email();
        var (token, _, _, _) = await _host.Client.SignupAsync(email);
        var owner = GatewayClient.Bearer(token);
        // The per-account login throttle locks the pair at the fifth failure (429); the heuristic counts all five.
        for (var i = 0; i < BruteForce.MaxFailures; i++)
            Assert.Equal(i < BruteForce.MaxFailures - 1 ? HttpStatusCode.Unauthorized : HttpStatusCode.TooManyRequests, (await LoginAsync(email, "wrong-password-" + i, "203.0.113.9")).Status);
        // Another address with fewer failures is left alone.
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(email, "typo", "198.51.100.20")).Status);
        await RelayKit.WaitUntilAsync(async () => (long)(await _host.Database!.ScalarAsync("select count(*) from request_log where account is not null")) >= 6,
            TimeSpan.FromSeconds(10), "the failed sign-ins in the request log");

        var report = await RunAsync();
        Assert.Equal(1, report.Blocked);

        // Blocked on the sign-in routes — even with the right password — with the heuristics' problem type and Retry-After.
        var (status, response) = await LoginAsync(email, GatewayClient.Password, "203.0.113.9");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.EndsWith(":abnormal-usage-detected", problem.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 590, 600);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(email, GatewayClient.Password, "198.51.100.20")).Status);

        var insight = Assert.Single(await InsightsAsync(owner, "?kind=brute_force"));
        Assert.Equal("installation", insight.GetProperty("scope").GetString());
        Assert.Equal("ip:203.0.113.9", insight.GetProperty("subject").GetString());
        Assert.Contains($"failed to sign in 5 times in 10 minutes as {email} (5×)", insight.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("blocked from the sign-in routes for 10 minutes", insight.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(600, insight.GetProperty("evidence").GetProperty("blockSeconds").GetDouble());
        // A viewer of the tenant does not see installation-wide insights.
        var viewer = await _host.Client.ViewerAsync(owner);
        Assert.Empty(await InsightsAsync(viewer));

        // The next pass does not block again (the failures were judged); the insight stays active until the block ends.
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, (await RunAsync()).Blocked);
        _clock.Advance(TimeSpan.FromMinutes(10));
        await RunAsync();
        var (_, again) = await LoginAsync(email, GatewayClient.Password, "192.0.2.50"); // the old token has expired (Redis keeps real time: the block is still on)
        var fresh = GatewayClient.Bearer((await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!);
        Assert.Equal("resolved", Assert.Single(await InsightsAsync(fresh, "?kind=brute_force")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task AFloodWithErrorsAndSlowAnswers_AgainstAQuietHourLastWeek_IsThreeInsights_AndTheSummarySaysCritical()
    {
        var (token, _, _, _) = await _host.Client.SignupAsync();
        var owner = GatewayClient.Bearer(token);
        var minute = Truncate(_clock.GetUtcNow()).AddMinutes(-1);
        var hour = new DateTimeOffset(minute.Year, minute.Month, minute.Day, minute.Hour, 0, 0, TimeSpan.Zero);
        // Last week at this hour: about 1 request a second, no errors, p95 40–60 ms.
        for (var d = 1; d <= 7; d++)
        {
            await ExecAsync("insert into gateway_minutes (minute, scope, requests, errors, p95_ms) select $1 + make_interval(mins => m), '*', 55 + (m * 7 % 11), 0, 40 + (m % 20) " +
                            "from generate_series(0, 59) m", hour.AddDays(-d));
        }

        // The last minute: 600 requests from one address (100 of them 5xx, all slow) and 60 ordinary ones.
        await ExecAsync("insert into request_log (ts, ip, method, route, status, duration_ms, bytes_in, bytes_out, rate_limited) " +
                        "select $1 + make_interval(secs => g / 10.0), '198.51.100.7', 'GET', '/api/metrics/query', case when g % 6 = 0 then 500 else 200 end, 900, 0, 100, false " +
                        "from generate_series(0, 599) g", minute);
        await ExecAsync("insert into request_log (ts, ip, method, route, status, duration_ms, bytes_in, bytes_out, rate_limited) " +
                        "select $1 + make_interval(secs => g), '192.0.2.1', 'GET', '/api/health', 200, 20, 0, 100, false from generate_series(0, 59) g", minute);
        await RunAsync();

        var insights = await InsightsAsync(owner);
        var kinds = insights.Select(i => i.GetProperty("kind").GetString() + ":" + i.GetProperty("subject").GetString()).Order().ToList();
        Assert.Equal(["error_spike:overall", "flood:ip:198.51.100.7", "flood:overall", "latency:overall"], kinds);
        var ipFlood = insights.Single(i => i.GetProperty("subject").GetString() == "ip:198.51.100.7");
        Assert.Contains("Requests from 198.51.100.7 ran at 10.0/s", ipFlood.GetProperty("message").GetString(), StringComparison.Ordinal);
        var errors = insights.Single(i => i.GetProperty("kind").GetString() == "error_spike");
        Assert.Contains("(100 of 660)", errors.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(660, errors.GetProperty("evidence").GetProperty("requests").GetDouble());

        var (status, summary, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/ai/insight", null, owner);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("critical", summary.GetProperty("status").GetString());
        Assert.Contains("ran at", summary.GetProperty("summary").GetString(), StringComparison.Ordinal);

        // A normal minute after it: nothing new, and five minutes later the insights resolve by themselves.
        _clock.Advance(TimeSpan.FromMinutes(6));
        await RunAsync();
        Assert.All(await InsightsAsync(owner), i => Assert.Equal("resolved", i.GetProperty("state").GetString()));
        var (_, calm, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/ai/insight", null, owner);
        Assert.Equal("ok", calm.GetProperty("status").GetString());
        Assert.StartsWith("Everything looks fine", calm.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MetricAnomalies_AreFoundOnTheTenantsSeries_QuietOnFlatAndSparseOnes()
    {
        var (token, _, tenant, _) = await _host.Client.SignupAsync();
        var owner = GatewayClient.Bearer(token);
        var (_, agent, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "web-1" }, owner);
        var agentId = agent.GetProperty("agent").GetProperty("id").GetString()!;
        var minute = Truncate(_clock.GetUtcNow()).AddMinutes(-1);
        await _host.Services.GetRequiredService<MetricStorage>().EnsurePartitionsAsync(MetricStorage.Rollup1m, [minute.AddDays(-2), minute.AddDays(-1), minute], CancellationToken.None);
        var ids = new Dictionary<string, long>();
        foreach (var (name, labels) in new[] { ("cpu.usage", "core=total"), ("fs.size", "mountpoint=/"), ("mem.used_percent", "") })
        {
            await ExecAsync("insert into metric_series (tenant_id, agent_id, name, labels, labels_key) values ($1, $2, $3, '{}', $4)", tenant, agentId, name, labels);
            ids[name] = (long)(await _host.Database!.ScalarAsync($"select id from metric_series where agent_id = '{agentId}' and name = '{name}'"));
        }

        // cpu: two days of a daily cycle (40 ± 20) with noise, then 97 now; fs.size: flat, a hair more now; mem: sparse.
        await ExecAsync("insert into metric_rollup_1m (series_id, bucket, min, max, sum, count, last) select $1, b, v, v, v * 6, 6, v from " +
                        "(select $2 - make_interval(mins => m) as b, 40 + 20 * sin(2 * pi() * m / 1440.0) + ((m * 7919) % 13 - 6) / 3.0 as v from generate_series(1, 2880) m) x",
            ids["cpu.usage"], minute);
        await ExecAsync("insert into metric_rollup_1m (series_id, bucket, min, max, sum, count, last) values ($1, $2, 97, 97, 582, 6, 97)", ids["cpu.usage"], minute);
        await ExecAsync("insert into metric_rollup_1m (series_id, bucket, min, max, sum, count, last) select $1, $2 - make_interval(mins => m), 1e11, 1e11, 6e11, 6, 1e11 " +
                        "from generate_series(0, 2880) m", ids["fs.size"], minute);
        await ExecAsync("update metric_rollup_1m set sum = 6e11 + 6000, last = 1e11 + 1000 where series_id = $1 and bucket = $2", ids["fs.size"], minute);
        await ExecAsync("insert into metric_rollup_1m (series_id, bucket, min, max, sum, count, last) select $1, $2 - make_interval(mins => m * 97), 50, 50, 300, 6, 50 " +
                        "from generate_series(1, 10) m", ids["mem.used_percent"], minute);
        await ExecAsync("insert into metric_rollup_1m (series_id, bucket, min, max, sum, count, last) values ($1, $2, 99, 99, 594, 6, 99)", ids["mem.used_percent"], minute);

        var report = await RunAsync();
        Assert.Equal(3, report.SeriesChecked);
        var anomaly = Assert.Single(await InsightsAsync(owner, "?kind=anomaly"));
        Assert.Equal($"series:{ids["cpu.usage"]}", anomaly.GetProperty("subject").GetString());
        Assert.Equal("tenant", anomaly.GetProperty("scope").GetString());
        Assert.Equal(1, anomaly.GetProperty("evidence").GetProperty("seasonal").GetDouble());
        Assert.Contains("cpu.usage{core=total} on web-1 averaged 97", anomaly.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("at this time of day", anomaly.GetProperty("message").GetString(), StringComparison.Ordinal);
        // Another tenant sees none of it.
        var (other, _, _, _) = await _host.Client.SignupAsync();
        Assert.Empty(await InsightsAsync(GatewayClient.Bearer(other)));
    }

    [Fact]
    public async Task TheChatbotStack_ASilentInstance_AGrowingBacklog_AndAFailingTarget()
    {
        var (token, _, tenant, _) = await _host.Client.SignupAsync();
        var owner = GatewayClient.Bearer(token);
        var now = _clock.GetUtcNow();
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        await ExecAsync("insert into relay_instances (tenant_id, instance, state, updated_at) values ($1, 'vendas', 'open', $2)", tenant, now.AddDays(-8));
        // 20 customer messages in this hour on each of the last 7 days; the last one two hours ago.
        for (var d = 1; d <= 7; d++)
        {
            await ExecAsync("insert into relay_messages (tenant_id, conversation_id, instance, direction, source, kind, sent_at, received_at, decision) " +
                            "select $1, 'c1', 'vendas', 'inbound', 'evolution', 'text', t, t, 'seeded' from (select $2 + make_interval(mins => m * 3) as t from generate_series(0, 19) m) x",
                tenant, hour.AddDays(-d));
        }

        await ExecAsync("insert into relay_messages (tenant_id, conversation_id, instance, direction, source, kind, sent_at, received_at, decision) " +
                        "values ($1, 'c1', 'vendas', 'inbound', 'evolution', 'text', $2, $2, 'seeded')", tenant, now.AddHours(-2));
        // 150 deliveries waiting for n8n, created in the last five minutes, and n8n failing every attempt.
        await ExecAsync("insert into relay_deliveries (tenant_id, webhook_id, conversation_id, instance, target, lane, message_at, next_attempt_at, created_at, attempts) " +
                        "select $1, 'msg_' || g, 'c1', 'vendas', 'n8n', 'c1', $2, $2, $2 - make_interval(secs => g), 1 from generate_series(1, 150) g", tenant, now);
        await ExecAsync("insert into relay_attempts (delivery_id, attempt, tenant_id, at, status, latency_ms, error) " +
                        "select id, 1, tenant_id, $2 - make_interval(secs => id % 300), 500, 12, 'HTTP 500 Internal Server Error' from relay_deliveries where tenant_id = $1", tenant, now);

        await RunAsync();
        var insights = await InsightsAsync(owner);
        Assert.Equal(["evolution_silent", "relay_backlog", "target_failing"], insights.Select(i => i.GetProperty("kind").GetString()).Order());
        var silent = insights.Single(i => i.GetProperty("kind").GetString() == "evolution_silent");
        Assert.Contains("Evolution instance vendas is connected but has delivered no customer message for 2 hours; it usually delivers 20 an hour",
            silent.GetProperty("message").GetString(), StringComparison.Ordinal);
        var failing = insights.Single(i => i.GetProperty("kind").GetString() == "target_failing");
        Assert.Contains("failed 150 of its last 150 attempts", failing.GetProperty("message").GetString(), StringComparison.Ordinal);
        var backlog = insights.Single(i => i.GetProperty("kind").GetString() == "relay_backlog");
        Assert.Contains("grew from 0 to 150 pending deliveries in 10 minutes (n8n: 150)", backlog.GetProperty("message").GetString(), StringComparison.Ordinal);

        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await _host.Client.SendAsync(HttpMethod.Get, "/api/insights?kind=weather", null, owner));
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await _host.Client.SendAsync(HttpMethod.Get, "/api/insights?limit=0", null, owner));
        var (_, page, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/insights?limit=2", null, owner);
        Assert.Equal(2, page.GetProperty("insights").GetArrayLength());
        var (_, rest, _) = await _host.Client.SendAsync(HttpMethod.Get, $"/api/insights?limit=2&before={page.GetProperty("next").GetInt64()}", null, owner);
        Assert.Equal(1, rest.GetProperty("insights").GetArrayLength());
    }
}
