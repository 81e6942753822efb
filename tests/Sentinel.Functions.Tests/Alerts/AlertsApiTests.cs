using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Core.Alerts;
using Sentinel.Core.Monitoring;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Alerts;

/// <summary>The alerts API over real HTTP: rule CRUD with validation problems, ETags, roles, scopes and tenancy; the
/// alerts and history the evaluator produces.</summary>
public sealed class AlertsApiTests : IAsyncLifetime
{
    private SentinelTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SentinelTestHost.StartAsync(HostMode.Standalone);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static object Rule(string name = "High CPU", double threshold = 90, string @for = "5m", string keep = "1m") => new
    {
        name,
        metric = "cpu.usage",
        matchers = new[] { "core=total" },
        aggregation = "avg",
        window = "2m",
        op = ">",
        threshold,
        @for,
        keepFiringFor = keep,
        severity = "critical",
        labels = new Dictionary<string, string> { ["team"] = "ops" },
        annotations = new Dictionary<string, string> { ["summary"] = "{{ $labels.agent }} CPU at {{ $value }}%" },
    };

    /// <summary>An agent of the tenant with one cpu.usage{core=total} sample of 77 stored 5 s ago (as ingest stores it),
    /// and the tenant's rules evaluated; returns the agent id.</summary>
    private async Task<string> FiringAsync(string tenant, string auth)
    {
        var (_, agent, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "web-1" }, auth);
        var agentId = agent.GetProperty("agent").GetProperty("id").GetString()!;
        var db = _host.Database!;
        await db.ScalarAsync($"insert into metric_series (tenant_id, agent_id, name, labels, labels_key) values ('{tenant}', '{agentId}', 'cpu.usage', '{{\"core\":\"total\"}}', 'core=total') returning id");
        await _host.Services.GetRequiredService<MetricStorage>().EnsurePartitionsAsync(MetricStorage.Samples, [TimeProvider.System.GetUtcNow()], CancellationToken.None);
        await db.ScalarAsync($"insert into metric_samples (series_id, ts, value) select id, now() - interval '5 seconds', 77 from metric_series where tenant_id = '{tenant}' returning 1");
        await _host.Services.GetRequiredService<AlertEvaluator>().EvaluateAsync(tenant, CancellationToken.None);
        return agentId;
    }

    [Fact]
    public async Task Crud_WithETags_AndChangesNothingOnBadInput()
    {
        var (token, _, _, _) = await _host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);

        var (status, created, response) = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", Rule(), auth);
        Assert.Equal(HttpStatusCode.Created, status);
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal("\"1\"", response.Headers.ETag?.ToString());
        Assert.Equal("avg(cpu.usage{core=total}[2m]) > 90 for 5m", created.GetProperty("expression").GetString());
        Assert.Equal(("5m", "1m", "2m"), (created.GetProperty("for").GetString(), created.GetProperty("keepFiringFor").GetString(), created.GetProperty("window").GetString()));

        GatewayClient.AssertProblem(HttpStatusCode.Conflict, "rule-name-taken", await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", Rule(), auth));
        var bad = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", new { name = "x", metric = "cpu.usage", op = "=>", threshold = 1 }, auth);
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", bad);
        Assert.Contains(">, >=, <, <=, ==, !=", bad.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var notJson = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", new { name = "y", threshold = "ninety" }, auth);
        Assert.Equal(HttpStatusCode.BadRequest, notJson.Status);
        Assert.Equal("application/problem+json", notJson.Response.Content.Headers.ContentType?.MediaType);

        // Lost update: an If-Match of an older version is refused; the current one wins and bumps the ETag.
        var (_, _, got) = await _host.Client.SendAsync(HttpMethod.Get, $"/api/alerts/rules/{id}", null, auth);
        var etag = got.Headers.ETag!.ToString();
        using (var put = new HttpRequestMessage(HttpMethod.Put, $"/api/alerts/rules/{id}") { Content = JsonContent.Create(Rule(threshold: 95)) })
        {
            put.Headers.TryAddWithoutValidation("Authorization", auth);
            put.Headers.TryAddWithoutValidation("If-Match", etag);
            using var ok = await _host.Client.SendAsync(put);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("\"2\"", ok.Headers.ETag?.ToString());
        }

        using (var stale = new HttpRequestMessage(HttpMethod.Put, $"/api/alerts/rules/{id}") { Content = JsonContent.Create(Rule(threshold: 80)) })
        {
            stale.Headers.TryAddWithoutValidation("Authorization", auth);
            stale.Headers.TryAddWithoutValidation("If-Match", etag);
            using var conflict = await _host.Client.SendAsync(stale);
            Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        }

        var (_, list, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/rules", null, auth);
        var mine = list.GetProperty("rules").EnumerateArray().Single(r => r.GetProperty("id").GetString() == id);
        Assert.Equal(95, mine.GetProperty("threshold").GetDouble());

        Assert.Equal(HttpStatusCode.NoContent, (await _host.Client.SendAsync(HttpMethod.Delete, $"/api/alerts/rules/{id}", null, auth)).Status);
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _host.Client.SendAsync(HttpMethod.Get, $"/api/alerts/rules/{id}", null, auth));
    }

    [Fact]
    public async Task Roles_Scopes_AndTenancy()
    {
        var owner = await _host.Client.SignupAsync();
        var other = await _host.Client.SignupAsync();
        var (_, created, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", Rule(), GatewayClient.Bearer(owner.AccessToken));
        var id = created.GetProperty("id").GetString()!;

        var viewer = await _host.Client.ViewerAsync(GatewayClient.Bearer(owner.AccessToken));
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/rules", null, viewer)).Status);
        GatewayClient.AssertProblem(HttpStatusCode.Forbidden, "forbidden", await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", Rule("v"), viewer));
        GatewayClient.AssertProblem(HttpStatusCode.Forbidden, "forbidden", await _host.Client.SendAsync(HttpMethod.Delete, $"/api/alerts/rules/{id}", null, viewer));

        var (_, key, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "grafana", scopes = new[] { "alerts:read" } }, GatewayClient.Bearer(owner.AccessToken));
        var keyAuth = "ApiKey " + key.GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts", null, keyAuth)).Status);
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/history", null, keyAuth)).Status);

        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _host.Client.SendAsync(HttpMethod.Get, $"/api/alerts/rules/{id}", null, GatewayClient.Bearer(other.AccessToken)));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _host.Client.SendAsync(HttpMethod.Delete, $"/api/alerts/rules/{id}", null, GatewayClient.Bearer(other.AccessToken)));
        var (_, theirs, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/rules", null, GatewayClient.Bearer(other.AccessToken));
        Assert.DoesNotContain(theirs.GetProperty("rules").EnumerateArray(), r => r.GetProperty("id").GetString() == id);
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts?state=loud", null, viewer));
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/history?limit=0", null, viewer));
    }

    [Fact]
    public async Task EvaluatedAlerts_AndTheirHistory_AreServed_InPages()
    {
        var (token, _, tenant, _) = await _host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);
        var (_, rule, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", Rule(threshold: 50, @for: "0s", keep: "0s"), auth);
        // A sample as ingest stores it, then three evaluations: firing, resolved (the sample leaves the window), nothing.
        var agentId = await FiringAsync(tenant, auth);
        var db = _host.Database!;
        var evaluator = _host.Services.GetRequiredService<AlertEvaluator>();

        var (_, alerts, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts?state=firing", null, auth);
        var alert = Assert.Single(alerts.GetProperty("alerts").EnumerateArray());
        Assert.Equal(rule.GetProperty("id").GetString(), alert.GetProperty("ruleId").GetString());
        Assert.Equal(77, alert.GetProperty("value").GetDouble());
        Assert.Equal(agentId, alert.GetProperty("labels").GetProperty("agent").GetString());

        await db.ScalarAsync("delete from metric_samples returning 1");
        await evaluator.EvaluateAsync(tenant, CancellationToken.None);
        var (_, page1, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/history?limit=1", null, auth);
        var newest = Assert.Single(page1.GetProperty("changes").EnumerateArray());
        Assert.Equal("resolved", newest.GetProperty("to").GetString());
        var next = page1.GetProperty("next").GetInt64();
        var (_, page2, _) = await _host.Client.SendAsync(HttpMethod.Get, $"/api/alerts/history?limit=1&before={next}", null, auth);
        var older = Assert.Single(page2.GetProperty("changes").EnumerateArray());
        Assert.Equal(("inactive", "firing"), (older.GetProperty("from").GetString(), older.GetProperty("to").GetString()));
        Assert.Equal($"{agentId} CPU at 77%", older.GetProperty("summary").GetString());
        var (_, firingOnly, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/history?state=firing", null, auth);
        Assert.Single(firingOnly.GetProperty("changes").EnumerateArray());
        Assert.Equal(JsonValueKind.Array, (await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts", null, auth)).Body.GetProperty("alerts").ValueKind);
    }

    [Fact]
    public async Task Silences_MuteMatchingAlerts_UntilExpired_AndOnlyOperatorsWriteThem()
    {
        var (token, _, tenant, _) = await _host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);
        await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", Rule(threshold: 50, @for: "0s", keep: "0s"), auth);
        var agentId = await FiringAsync(tenant, auth);

        var (status, silence, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/silences", new
        {
            matchers = new[] { "alertname=High CPU", $"agent={agentId}" },
            endsAt = TimeProvider.System.GetUtcNow().AddHours(1),
            comment = "deploying",
        }, auth);
        Assert.Equal(HttpStatusCode.Created, status);
        var silenceId = silence.GetProperty("id").GetString()!;
        Assert.Equal("active", silence.GetProperty("state").GetString());

        var (_, alerts, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts", null, auth);
        var muted = Assert.Single(alerts.GetProperty("alerts").EnumerateArray());
        Assert.Equal([silenceId], muted.GetProperty("silencedBy").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("firing", muted.GetProperty("state").GetString());   // muted, still firing

        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/silences",
            new { matchers = new[] { "alertname=~.*" }, endsAt = TimeProvider.System.GetUtcNow().AddHours(1), comment = "everything" }, auth));
        var other = await _host.Client.SignupAsync();
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _host.Client.SendAsync(HttpMethod.Delete, $"/api/alerts/silences/{silenceId}", null, GatewayClient.Bearer(other.AccessToken)));
        var viewer = await _host.Client.ViewerAsync(auth);
        GatewayClient.AssertProblem(HttpStatusCode.Forbidden, "forbidden", await _host.Client.SendAsync(HttpMethod.Delete, $"/api/alerts/silences/{silenceId}", null, viewer));
        Assert.Single((await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/silences", null, viewer)).Body.GetProperty("silences").EnumerateArray());

        Assert.Equal(HttpStatusCode.NoContent, (await _host.Client.SendAsync(HttpMethod.Delete, $"/api/alerts/silences/{silenceId}", null, auth)).Status);
        var (_, after, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts", null, auth);
        Assert.Empty(Assert.Single(after.GetProperty("alerts").EnumerateArray()).GetProperty("silencedBy").EnumerateArray());
        var (_, listed, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/silences?expired=true", null, auth);
        Assert.Equal("expired", Assert.Single(listed.GetProperty("silences").EnumerateArray()).GetProperty("state").GetString());
    }

    [Fact]
    public async Task RulePreview_ReplaysADraftOverTheLastDay_WithoutSavingIt()
    {
        var (token, _, tenant, _) = await _host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);
        await FiringAsync(tenant, auth); // one cpu.usage{core=total} sample of 77, 5 s ago

        var (status, hit, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules/preview", Rule(threshold: 50, @for: "0s"), auth);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, hit.GetProperty("series").GetInt32());
        Assert.Equal(1, hit.GetProperty("seriesFiring").GetInt32());
        Assert.Equal(1, hit.GetProperty("firings").GetInt32());
        var (_, miss, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules/preview", Rule(threshold: 90, @for: "0s"), auth);
        Assert.Equal(0, miss.GetProperty("firings").GetInt32());
        var (_, computed, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules/preview",
            new { name = "x", metric = "sentinel.agent.silent_intervals", op = ">=", threshold = 3 }, auth);
        Assert.Contains("no stored history", computed.GetProperty("note").GetString(), StringComparison.Ordinal);
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed",
            await _host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules/preview", new { metric = "cpu.usage", op = "~", threshold = 1 }, auth));
        // Nothing was saved (the six built-ins only).
        var (_, rules, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/alerts/rules", null, auth);
        Assert.DoesNotContain(rules.GetProperty("rules").EnumerateArray(), r => r.GetProperty("name").GetString() == "High CPU" && r.GetProperty("threshold").GetDouble() == 50);
    }

    [Fact]
    public async Task PolledGets_CarryAnETag_AndAnswer304WhileNothingChanged()
    {
        var (token, _, _, _) = await _host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);
        async Task<HttpResponseMessage> GetAsync(string? etag)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/agents");
            request.Headers.TryAddWithoutValidation("Authorization", auth);
            if (etag is not null)
                request.Headers.TryAddWithoutValidation("If-None-Match", etag);
            return await _host.Client.SendAsync(request);
        }

        using var first = await GetAsync(null);
        var etag = first.Headers.ETag?.ToString();
        Assert.NotNull(etag);
        Assert.True(first.Headers.CacheControl is { Private: true, NoCache: true });
        using var same = await GetAsync(etag);
        Assert.Equal(HttpStatusCode.NotModified, same.StatusCode);
        Assert.Empty(await same.Content.ReadAsByteArrayAsync());
        await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "web-9" }, auth);
        using var changed = await GetAsync(etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag?.ToString());
        Assert.Contains("web-9", await changed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
