using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Sentinel.Core.Alerts;
using Sentinel.Core.Relay;
using Sentinel.Functions.Tests.Gateway;
using Sentinel.Functions.Tests.Relay;
using Sentinel.TestSupport;

namespace Sentinel.Functions.Tests.Alerts;

/// <summary>
/// Notifications end to end over real HTTP: the app (PostgreSQL, Redis, Azurite) on a manual clock, receivers created
/// through the API, the relay outbox sending to stand-ins on loopback. The timers are replaced by recorders and driven
/// by the test (notifier every 10 s of clock time, then a drain), so an hour passes in seconds and nothing else acts.
/// Alerts are written as the evaluator leaves them.
/// </summary>
public sealed class AlertNotificationsTests : IAsyncLifetime
{
    private readonly ManualClock _clock = new(TimeProvider.System.GetUtcNow());
    private RelayKit _kit = null!;
    private AlertNotifier _notifier = null!;
    private RelayDispatcher _dispatcher = null!;

    public async Task InitializeAsync()
    {
        _kit = await RelayKit.StartAsync(new Dictionary<string, string> { ["Relay:BreakerOpenFor"] = "00:00:00.200" }, ManualTime.Services(_clock));
        _notifier = _kit.Host.Services.GetRequiredService<AlertNotifier>();
        _dispatcher = _kit.Host.Services.GetRequiredService<RelayDispatcher>();
    }

    public async Task DisposeAsync() => await _kit.DisposeAsync();

    private async Task<JsonElement> ReceiverAsync(object body)
    {
        var (status, created, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/alerts/receivers", body, _kit.Admin);
        Assert.True(status == HttpStatusCode.Created, $"receiver: {(int)status} {created}");
        return created;
    }

    private async Task<string> RuleAsync(string name)
    {
        var (status, rule, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/alerts/rules", new
        {
            name, metric = "cpu.usage", aggregation = "avg", window = "1m", op = ">", threshold = 90, severity = "critical",
            annotations = new Dictionary<string, string> { ["summary"] = "{{ $labels.host }} CPU at {{ $value }}%" },
        }, _kit.Admin);
        Assert.Equal(HttpStatusCode.Created, status);
        return rule.GetProperty("id").GetString()!;
    }

    private async Task FireAsync(string ruleId, string name, string host)
    {
        await using var command = _kit.Host.Database!.DataSource.CreateCommand(
            "insert into alert_instances (rule_id, fingerprint, tenant_id, labels, state, active_at, fired_at, last_true_at, evaluated_at, value) " +
            "values ($1, $2, $3, $4::jsonb, 'firing', $5, $5, $5, $5, 97)");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ruleId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "host=" + host });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _kit.TenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(new Dictionary<string, string> { ["alertname"] = name, ["severity"] = "critical", ["host"] = host }) });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _clock.GetUtcNow() });
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>10 s of clock time: the notifier's pass, then the outbox drained of what is due.</summary>
    private async Task TickAsync()
    {
        _clock.Advance(TimeSpan.FromSeconds(10));
        await _notifier.RunAsync(CancellationToken.None);
        await _dispatcher.DrainAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
    }

    [Fact]
    public async Task ReceiverDownForAnHour_EveryNotificationIsDeliveredOnce_InOrder_AfterItReturns()
    {
        var receiver = await ReceiverAsync(new { name = "n8n ops", kind = "n8n", url = _kit.Stack.BaseUrl + "/n8n/webhook/alerts" });
        var secret = receiver.GetProperty("signingSecret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var cpu = await RuleAsync("High CPU");
        _kit.Stack.Behaviors["n8n"] = Behavior.Fail500;

        // An hour: web-1 fires at once, web-2 at 20 min, web-1 resolves at 40 min — three notifications, all refused.
        await FireAsync(cpu, "High CPU", "web-1");
        for (var step = 1; step <= 360; step++)
        {
            if (step == 120)
                await FireAsync(cpu, "High CPU", "web-2");
            if (step == 240)
                await _kit.ScalarAsync("delete from alert_instances where rule_id = $1 and fingerprint = 'host=web-1'", cpu);
            await TickAsync();
        }

        var target = "receiver:" + receiver.GetProperty("id").GetString();
        Assert.Equal(3, await _kit.CountAsync("select count(*) from relay_deliveries where target = $1", target));
        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_deliveries where target = $1 and state <> 'pending'", target));
        Assert.True(_kit.Stack.Of("n8n", succeeded: false).Count >= 10, "the receiver was tried all along");
        Assert.Empty(_kit.Stack.Of("n8n"));

        // Back: within the longest backoff (5 min, +20 % jitter) every notification arrives, once, oldest first.
        _kit.Stack.Behaviors["n8n"] = Behavior.Ok;
        for (var step = 0; step < 40 && await _kit.CountAsync("select count(*) from relay_deliveries where target = $1 and state = 'delivered'", target) < 3; step++)
        {
            await TickAsync();
            await Task.Delay(20); // lets a breaker opened by the last failures close (0.2 s here)
        }

        var delivered = _kit.Stack.Of("n8n");
        Assert.Equal(3, delivered.Count);
        Assert.Equal(3, delivered.Select(r => r.Header("webhook-id")).Distinct().Count());
        string Shape(Received r) => string.Join(",", r.Json.GetProperty("alerts").EnumerateArray()
            .Select(a => a.GetProperty("labels").GetProperty("host").GetString() + ":" + a.GetProperty("status").GetString()).Order());
        Assert.Equal(["web-1:firing", "web-1:firing,web-2:firing", "web-1:resolved,web-2:firing"], delivered.Select(Shape));
        foreach (var r in delivered)
        {
            var key = Convert.FromBase64String(secret["whsec_".Length..]);
            var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{r.Header("webhook-id")}.{r.Header("webhook-timestamp")}.{r.Body}")));
            Assert.Equal(expected, r.Header("webhook-signature"));
            Assert.Equal("4", r.Json.GetProperty("version").GetString());
        }

        // The history says what went where and that it arrived (read from the store: the admin's token expired in this hour).
        var rows = await _kit.Host.Services.GetRequiredService<AlertStore>().HistoryAsync(_kit.TenantId,
            new AlertHistoryQuery(null, null, null, null, null, 100, "notification"), CancellationToken.None);
        Assert.Equal(5, rows.Count); // 1 + 2 + 2 alerts carried
        Assert.All(rows, h => Assert.Equal("delivered", h.DeliveryState));
        Assert.Equal(3, rows.Select(h => h.DeliveryId).Distinct().Count());
    }

    [Fact]
    public async Task SlackAndChatwootReceivers_GetTheirOwnShapes_AndATestSendIsFollowable()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance, n8n: false));
        var slack = await ReceiverAsync(new { name = "slack", kind = "slack", url = _kit.Stack.BaseUrl + "/n8n/slack/T000/B000/XXXX", groupWait = "0s" });
        await ReceiverAsync(new { name = "team", kind = "chatwoot", chatwootInstance = instance, chatwootConversationId = 42, groupWait = "0s" });
        Assert.False(slack.TryGetProperty("signingSecret", out var s) && s.ValueKind == JsonValueKind.String);

        var cpu = await RuleAsync("High CPU");
        await FireAsync(cpu, "High CPU", "web-1");
        await TickAsync();
        await TickAsync();
        // The drain or the relay's pump (signalled by the notifier) sends them.
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("n8n").Count + _kit.Stack.Of("chatwoot").Count >= 2, TimeSpan.FromSeconds(10), "both notifications");

        var slackPost = Assert.Single(_kit.Stack.Of("n8n"), r => r.Path.Contains("/slack/", StringComparison.Ordinal));
        Assert.Equal("[FIRING:1] High CPU", slackPost.Json.GetProperty("text").GetString());
        var attachment = slackPost.Json.GetProperty("attachments")[0];
        Assert.Equal("danger", attachment.GetProperty("color").GetString());
        Assert.Contains("web-1 CPU at 97%", attachment.GetProperty("text").GetString(), StringComparison.Ordinal);

        var note = Assert.Single(_kit.Stack.Of("chatwoot"), r => r.Path.EndsWith("/conversations/42/messages", StringComparison.Ordinal));
        Assert.True(note.Json.GetProperty("private").GetBoolean());
        Assert.Equal("chatwoot-agent-bot-token", note.Header("api_access_token"));
        Assert.StartsWith("[FIRING:1] High CPU", note.Json.GetProperty("content").GetString(), StringComparison.Ordinal);

        // A test send goes through the outbox and is followable as a delivery.
        var (status, test, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/alerts/receivers/{slack.GetProperty("id").GetString()}/test", null, _kit.Admin);
        Assert.Equal(HttpStatusCode.Accepted, status);
        await _dispatcher.DrainAsync(TimeSpan.FromSeconds(5), CancellationToken.None); // (or the pump, signalled by the send)
        await RelayKit.WaitUntilAsync(async () =>
        {
            var (_, delivery, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, test.GetProperty("delivery").GetString()!, null, _kit.Admin);
            return delivery.GetProperty("state").GetString() == "delivered";
        }, TimeSpan.FromSeconds(10), "the test notification delivered");
        Assert.Contains(_kit.Stack.Of("n8n"), r => r.Json.GetProperty("text").GetString() == "[FIRING:1] Sentinel test notification");
    }

    [Fact]
    public async Task ReceiversApi_ValidatesWithProblems_GuardsEdits_AndHidesWritesFromViewers()
    {
        var client = _kit.Host.Client;
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed",
            await client.SendAsync(HttpMethod.Post, "/api/alerts/receivers", new { name = "x", kind = "webhook", url = "ftp://example.com/" }, _kit.Admin));
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed",
            await client.SendAsync(HttpMethod.Post, "/api/alerts/receivers", new { name = "x", kind = "webhook", url = "https://example.com/", repeatInterval = "10s" }, _kit.Admin));
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await client.SendAsync(HttpMethod.Get, "/api/alerts/history?kind=emails", null, _kit.Admin));
        var (_, list, _) = await client.SendAsync(HttpMethod.Get, "/api/alerts/receivers", null, _kit.Admin);
        Assert.Equal(0, list.GetProperty("receivers").GetArrayLength());

        var created = await ReceiverAsync(new { name = "hook", kind = "webhook", url = "https://example.com/hook", groupBy = new[] { "alertname", "host" }, repeatInterval = "1h" });
        var id = created.GetProperty("id").GetString()!;
        GatewayClient.AssertProblem(HttpStatusCode.Conflict, "receiver-name-taken",
            await client.SendAsync(HttpMethod.Post, "/api/alerts/receivers", new { name = "hook", kind = "slack", url = "https://example.com/s" }, _kit.Admin));

        var (status, read, response) = await client.SendAsync(HttpMethod.Get, $"/api/alerts/receivers/{id}", null, _kit.Admin);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("\"1\"", response.Headers.ETag?.ToString());
        Assert.Equal("1h", read.GetProperty("repeatInterval").GetString());
        Assert.Equal(JsonValueKind.Null, read.GetProperty("signingSecret").ValueKind); // shown once, on create

        using (var put = new HttpRequestMessage(HttpMethod.Put, $"/api/alerts/receivers/{id}"))
        {
            put.Content = JsonContent(new { name = "hook", kind = "webhook", url = "https://example.com/v2" });
            put.Headers.TryAddWithoutValidation("Authorization", _kit.Admin);
            put.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(put)).StatusCode);
        }

        using (var stale = new HttpRequestMessage(HttpMethod.Put, $"/api/alerts/receivers/{id}"))
        {
            stale.Content = JsonContent(new { name = "hook", kind = "webhook", url = "https://example.com/v3" });
            stale.Headers.TryAddWithoutValidation("Authorization", _kit.Admin);
            stale.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
            Assert.Equal(HttpStatusCode.Conflict, (await client.SendAsync(stale)).StatusCode);
        }

        var viewer = await client.ViewerAsync(_kit.Admin);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(HttpMethod.Get, "/api/alerts/receivers", null, viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(HttpMethod.Post, "/api/alerts/receivers", new { name = "v", kind = "slack", url = "https://e.com/" }, viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(HttpMethod.Delete, $"/api/alerts/receivers/{id}", null, viewer)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(HttpMethod.Post, $"/api/alerts/receivers/{id}/test", null, viewer)).Status);

        // Another tenant sees nothing of it.
        var (otherToken, _, _, _) = await client.SignupAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(HttpMethod.Get, $"/api/alerts/receivers/{id}", null, GatewayClient.Bearer(otherToken))).Status);

        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(HttpMethod.Delete, $"/api/alerts/receivers/{id}", null, _kit.Admin)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.SendAsync(HttpMethod.Get, $"/api/alerts/receivers/{id}", null, _kit.Admin)).Status);
    }

    private static StringContent JsonContent(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
}
