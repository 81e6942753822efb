using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;
using Sentinel.TestSupport;
using static Sentinel.Functions.Tests.Gateway.GatewayClient;

namespace Sentinel.Functions.Tests.Gateway;

/// <summary>Limits, lockouts, fail-open and the request log, each with a host configured for it.</summary>
public sealed class RateLimitingHttpTests
{
    [Fact]
    public async Task AnonymousBucket_Spent_Is429WithRetryAfterAndViolatedPolicy_AndLoggedAsRateLimited()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: new Dictionary<string, string>
        {
            ["RateLimiting:Policies:anonymous:Capacity"] = "3",
            ["RateLimiting:Policies:anonymous:RefillPerSecond"] = "0.1",
            ["RequestLog:FlushInterval"] = "00:00:00.100",
        });

        var answers = new List<(HttpStatusCode Status, System.Text.Json.JsonElement Body, HttpResponseMessage Response)>();
        for (var i = 0; i < 4; i++)
            answers.Add(await host.Client.SendAsync(HttpMethod.Get, "/api/version"));

        Assert.All(answers.Take(3), a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Equal(["\"anonymous\";r=2;t=10", "\"anonymous\";r=1;t=20", "\"anonymous\";r=0;t=30"], answers.Take(3).Select(a => a.Response.Headers.GetValues("RateLimit").Single()));
        var limited = answers[3];
        AssertProblem(HttpStatusCode.TooManyRequests, "quota-exceeded", limited);
        Assert.InRange(limited.Response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 9, 10);
        Assert.Equal("anonymous", limited.Body.GetProperty("violated-policies")[0].GetString());
        Assert.Equal("\"anonymous\";q=3;w=30", limited.Response.Headers.GetValues("RateLimit-Policy").Single());

        await host.StopAppAsync();
        Assert.Equal(1, await host.Database!.ScalarAsync("select count(*) from request_log where rate_limited and status = 429"));
    }

    [Fact]
    public async Task Login_FiveFailures_LockThePairForItsIp_ThenTheLockReleases()
    {
        // The pair's lockout alone: the heuristics timer (which would block the address for 10 minutes after these
        // failures, HeuristicsTests) is replaced by a recorder.
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone,
            services => services.AddKeyedSingleton<ITimerFunction>(FunctionRegistry.Heuristics, new RecordingTimerFunction()),
            new Dictionary<string, string>
            {
                ["RateLimiting:TrustForwardedFor"] = "true",
                ["Identity:Lockout:Duration"] = "00:00:02",
            });
        var email = Email();
        await host.Client.SignupAsync(email);
        async Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body, HttpResponseMessage Response)> LoginAsync(string password, string ip)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/token") { Content = System.Net.Http.Json.JsonContent.Create(new { email, password }) };
            request.Headers.Add("X-Forwarded-For", $"198.51.100.7, {ip}");
            var response = await host.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, System.Text.Json.JsonDocument.Parse(text).RootElement.Clone(), response);
        }

        var failures = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
            failures.Add((await LoginAsync("wrong password!", "203.0.113.5")).Status);
        var rightPasswordWhileLocked = await LoginAsync(Password, "203.0.113.5");
        var otherIp = await LoginAsync(Password, "203.0.113.6");
        await Task.Delay(2200);
        var afterRelease = await LoginAsync(Password, "203.0.113.5");

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], failures);
        AssertProblem(HttpStatusCode.TooManyRequests, "login-locked", rightPasswordWhileLocked);
        Assert.NotNull(rightPasswordWhileLocked.Response.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, otherIp.Status);
        Assert.Equal(HttpStatusCode.OK, afterRelease.Status);
    }

    [Fact]
    public async Task RedisStopped_RequestsStillServedAndLimited_HealthSaysInProcess_ThenRecovers()
    {
        await using var redis = await RedisProcess.StartAsync();
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: new Dictionary<string, string>
        {
            ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["RateLimiting:Policies:api:Capacity"] = "1000",
        });
        var signupEmail = Email();
        var token = Bearer((await host.Client.SignupAsync(signupEmail)).AccessToken);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: token)).Status);

        await redis.StopAsync();
        var during = await host.Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: token);
        var health = await host.Client.SendAsync(HttpMethod.Get, "/api/health");

        Assert.Equal(HttpStatusCode.OK, during.Status);
        Assert.Matches("^\"api\";r=\\d+;t=\\d+$", during.Response.Headers.GetValues("RateLimit").Single());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.Status);
        Assert.Contains("redis", health.Body.GetProperty("down").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("in-process", health.Body.GetProperty("gateway").GetProperty("rateLimiting").GetString());
        Assert.True(health.Body.GetProperty("gateway").GetProperty("failOpenDecisions").GetInt64() >= 1);

        // Logging out still works, and holds on this instance although Redis could not record it.
        var second = Bearer((await host.Client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email = signupEmail, password = Password })).Body.GetProperty("access_token").GetString()!);
        Assert.Equal(HttpStatusCode.NoContent, (await host.Client.SendAsync(HttpMethod.Post, "/api/auth/logout", authorization: second)).Status);
        AssertProblem(HttpStatusCode.Unauthorized, "invalid-token", await host.Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: second));

        await redis.StartAgainAsync();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        string? mode = null;
        while (sw.Elapsed < TimeSpan.FromSeconds(30))
        {
            await host.Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: token);
            var h = await host.Client.SendAsync(HttpMethod.Get, "/api/health");
            mode = h.Body.GetProperty("gateway").GetProperty("rateLimiting").GetString();
            if (mode == "redis" && h.Status == HttpStatusCode.OK)
                break;
            await Task.Delay(250);
        }

        Assert.Equal("redis", mode);
    }

    [Fact]
    public async Task TableStorageDown_Is503Problem_NotA500()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: new Dictionary<string, string>
        {
            ["ConnectionStrings:Tables"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=AAAA;TableEndpoint=http://" + Sentinel.TestSupport.TestServers.ClosedPort() + "/devstoreaccount1",
        });

        var login = await host.Client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email = Email(), password = Password });

        AssertProblem(HttpStatusCode.ServiceUnavailable, "unavailable", login);
        Assert.NotNull(login.Response.Headers.RetryAfter);
    }

    [Fact]
    public async Task TenThousandRequests_AreAllLogged_IncludingThoseQueuedAtShutdown()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: new Dictionary<string, string>
        {
            ["RateLimiting:Policies:anonymous:Capacity"] = "100000",
            ["RequestLog:BatchSize"] = "2000",
        });

        var sent = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 10_000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
        {
            using var response = await host.Client.GetAsync("/api/version", ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Interlocked.Increment(ref sent);
        });
        await host.StopAppAsync();

        Assert.Equal(10_000, sent);
        Assert.Equal(10_000, await host.Database!.ScalarAsync("select count(*) from request_log where route = '/api/version' and status = 200 and method = 'GET'"));
        Assert.Equal(0, await host.Database.ScalarAsync("select count(*) from request_log where route = '/api/version' and (bytes_out = 0 or duration_ms <= 0)"));
    }
}
