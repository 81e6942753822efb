using System.Net;
using System.Security.Cryptography;
using System.Text;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Relay;

/// <summary>The outbox: retries after an outage deliver everything once and in order, 410 disables a target, dead
/// letters replay without double delivery, Retry-After is honoured, and two processes draining one outbox never send a
/// delivery twice.</summary>
public sealed class RelayDeliveryTests : IAsyncLifetime
{
    private RelayKit _kit = null!;

    public async Task InitializeAsync() => _kit = await RelayKit.StartAsync();

    public async Task DisposeAsync() => await _kit.DisposeAsync();

    [Fact]
    public async Task TargetDownForSeveralRetries_EveryMessageDeliveredOnceAfterItReturns_InOrderPerConversation()
    {
        var instance = RelayKit.NewInstance();
        var saved = await _kit.CreateRouteAsync(_kit.Route(instance, chatwoot: false));
        var secret = saved.GetProperty("n8nSigningSecret").GetString()!;
        _kit.Stack.Behaviors["n8n"] = Behavior.Fail500;

        const int conversations = 4, perConversation = 6;
        var posts = new List<Task>();
        for (var c = 0; c < conversations; c++)
        {
            var jid = $"55119000000{c:D2}@s.whatsapp.net";
            var conversation = c;
            posts.Add(Task.Run(async () =>
            {
                // Odd conversations arrive newest first (Evolution's independent retries reorder, research §1.5): delivery still goes by messageTimestamp.
                for (var k = 0; k < perConversation; k++)
                {
                    var i = conversation % 2 == 0 ? k : perConversation - 1 - k;
                    var answer = await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: $"K{conversation}-{i}", text: $"c{conversation} m{i}",
                        timestamp: 1761055391 + i, remoteJid: jid));
                    Assert.Equal("stored", answer.Body.GetProperty("status").GetString());
                }
            }));
        }

        await Task.WhenAll(posts);
        // Down for several retries: each conversation's head fails at least three times while the rest wait behind it.
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and attempts >= 3", instance) >= conversations,
            TimeSpan.FromSeconds(30), "three failed attempts per conversation");
        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'delivered'", instance));
        // In the conversations that arrived in order, only each head was attempted; the rest waited behind it.
        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_deliveries d join relay_conversations c on c.id = d.conversation_id " +
                                              "where d.instance = $1 and d.state = 'pending' and d.attempts > 0 and right(c.customer_jid, 17) in ('00@s.whatsapp.net', '02@s.whatsapp.net') " +
                                              "and d.id not in (select distinct on (lane) id from relay_deliveries where instance = $1 and state = 'pending' order by lane, message_at, id)", instance));

        _kit.Stack.Behaviors["n8n"] = Behavior.Ok;
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'delivered'", instance) == conversations * perConversation,
            TimeSpan.FromSeconds(40), "every delivery");

        var delivered = _kit.Stack.Of("n8n");
        Assert.Equal(conversations * perConversation, delivered.Count);
        Assert.Equal(delivered.Count, delivered.Select(r => r.Header("webhook-id")).Distinct().Count());
        for (var c = 0; c < conversations; c++)
        {
            var texts = delivered.Select(r => r.Json.GetProperty("message").GetProperty("text").GetString()!).Where(t => t.StartsWith($"c{c} ", StringComparison.Ordinal)).ToList();
            Assert.Equal(Enumerable.Range(0, perConversation).Select(i => $"c{c} m{i}"), texts);
        }

        // Every delivery carries a Standard Webhooks signature the receiver can verify with the route's secret.
        foreach (var r in delivered)
        {
            var key = Convert.FromBase64String(secret["whsec_".Length..]);
            var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{r.Header("webhook-id")}.{r.Header("webhook-timestamp")}.{r.Body}")));
            Assert.Equal(expected, r.Header("webhook-signature"));
        }

        // Each failed attempt is in the audit, with its status.
        var (_, deliveries, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/deliveries?instance={instance}&limit=500", null, _kit.Admin);
        var head = deliveries.GetProperty("deliveries").EnumerateArray().OrderByDescending(d => d.GetProperty("attempts").GetInt32()).First();
        var (_, one, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/deliveries/{head.GetProperty("id").GetInt64()}", null, _kit.Admin);
        var log = one.GetProperty("attemptLog").EnumerateArray().ToList();
        Assert.True(log.Count >= 4);
        Assert.All(log[..^1], a => Assert.Equal(500, a.GetProperty("status").GetInt32()));
        Assert.Equal(200, log[^1].GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Gone410_DisablesTheTarget_DeadLettersReplayOnceItIsSavedAgain_AndNeverTwice()
    {
        var instance = RelayKit.NewInstance();
        var route = _kit.Route(instance, chatwoot: false);
        await _kit.CreateRouteAsync(route);
        _kit.Stack.Behaviors["n8n"] = Behavior.Gone410;
        await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "G1"));
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'dead'", instance) == 1,
            TimeSpan.FromSeconds(20), "the dead letter");

        // The target is disabled right after its dead letter is recorded.
        await RelayKit.WaitUntilAsync(async () =>
        {
            var (_, view, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/routes/{instance}", null, _kit.Admin);
            var n8n = view.GetProperty("targets").EnumerateArray().Single(t => t.GetProperty("target").GetString() == "n8n");
            return n8n.GetProperty("disabledAt").ValueKind != System.Text.Json.JsonValueKind.Null;
        }, TimeSpan.FromSeconds(10), "the target disabled");

        // While disabled, new messages do not queue for it (the decision says why).
        var later = await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "G2"));
        Assert.Contains("disabled", later.Body.GetProperty("decision").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, later.Body.GetProperty("deliveries").GetInt32());

        var (_, dead, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/deliveries?state=dead", null, _kit.Admin);
        var letter = Assert.Single(dead.GetProperty("deliveries").EnumerateArray());
        var id = letter.GetProperty("id").GetInt64();
        Assert.Contains("410", letter.GetProperty("lastError").GetString(), StringComparison.Ordinal);

        _kit.Stack.Behaviors["n8n"] = Behavior.Ok;
        Assert.Equal(HttpStatusCode.OK, (await _kit.Host.Client.SendAsync(HttpMethod.Put, $"/api/relay/routes/{instance}", route, _kit.Admin)).Status);
        var (replayStatus, _, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/deliveries/{id}/replay", null, _kit.Admin);
        Assert.Equal(HttpStatusCode.Accepted, replayStatus);
        // A second replay while it is pending or once it is delivered changes nothing.
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where id = $1 and state = 'delivered'", id) == 1,
            TimeSpan.FromSeconds(20), "the replayed delivery");
        GatewayClient.AssertProblem(HttpStatusCode.Conflict, "not-dead", await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/deliveries/{id}/replay", null, _kit.Admin));
        Assert.Equal(0, (await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/deliveries/replay", new { target = "n8n" }, _kit.Admin)).Body.GetProperty("replayed").GetInt32());
        await Task.Delay(1500);
        var ok = _kit.Stack.Of("n8n");
        Assert.Single(ok);
        // The replay keeps the webhook-id of the first attempt, so a receiver that saw it can tell.
        Assert.Equal(_kit.Stack.Of("n8n", succeeded: false)[0].Header("webhook-id"), ok[0].Header("webhook-id"));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/deliveries/999999999/replay", null, _kit.Admin));
        Assert.Equal(HttpStatusCode.BadRequest, (await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/deliveries/not-a-number", null, _kit.Admin)).Status);
    }

    [Fact]
    public async Task RetryAfter_IsHonoured_AndTheScheduleRunsOutIntoADeadLetter()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance, chatwoot: false));
        _kit.Stack.Behaviors["n8n"] = Behavior.TooMany429;
        _kit.Stack.RetryAfterSeconds = 4;
        await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "R1"));
        await RelayKit.WaitUntilAsync(async () => (await AttemptTimesAsync(instance)).Count >= 2, TimeSpan.FromSeconds(30), "two recorded attempts");
        var attempts = await AttemptTimesAsync(instance);
        // The schedule says 1 s; the target asked for 4.
        Assert.True(attempts[1] - attempts[0] >= TimeSpan.FromSeconds(3.5), $"second attempt {(attempts[1] - attempts[0]).TotalSeconds:0.0} s after the first");

        _kit.Stack.Behaviors["n8n"] = Behavior.NotFound404;
        // 1 immediate + 6 retries on the test schedule, then dead.
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'dead'", instance) == 1,
            TimeSpan.FromSeconds(60), "the dead letter");
        Assert.Equal(7, await _kit.CountAsync("select attempts from relay_deliveries where instance = $1", instance));
    }

    [Fact]
    public async Task ATargetFailingInARow_OpensItsBreaker_AndIsLeftAloneWhileItIsOpen()
    {
        await using var kit = await RelayKit.StartAsync(new Dictionary<string, string> { ["Relay:BreakerOpenFor"] = "00:01:00" });
        var instance = RelayKit.NewInstance();
        await kit.CreateRouteAsync(kit.Route(instance, chatwoot: false));
        kit.Stack.Behaviors["n8n"] = Behavior.Fail500;
        await kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "B1"));

        // Five failures in a row (the test schedule retries every second) open the breaker.
        const string attempts = "select count(*) from relay_attempts a join relay_deliveries d on d.id = a.delivery_id where d.instance = $1";
        await RelayKit.WaitUntilAsync(async () => await kit.CountAsync(attempts, instance) == 5, TimeSpan.FromSeconds(30), "five failed attempts");
        var (_, health, _) = await kit.Host.Client.SendAsync(HttpMethod.Get, "/api/health");
        Assert.Equal(1, health.GetProperty("relay").GetProperty("openBreakers").GetInt32());

        // While it is open the delivery is not claimed, although the schedule says it is due.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(5, await kit.CountAsync(attempts, instance));
        Assert.Equal(1, await kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'pending' and next_attempt_at < now()", instance));
    }

    [Fact]
    public async Task AHangingTarget_DoesNotSlowTheOthers()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance)); // Chatwoot's timeout is 5 s
        _kit.Stack.Behaviors["chatwoot"] = Behavior.Hang;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 6; i++)
        {
            await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: $"H{i}", text: $"m{i}",
                timestamp: 1761055391 + i, remoteJid: $"5511955500{i:D3}@s.whatsapp.net"));
        }

        // Every n8n delivery is recorded while Chatwoot's attempts are still hanging (well before its 5 s timeout).
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and target = 'n8n' and state = 'delivered'", instance) == 6,
            TimeSpan.FromSeconds(20), "the n8n deliveries");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"n8n waited {watch.Elapsed.TotalSeconds:0.0} s behind a hanging Chatwoot");
        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_attempts a join relay_deliveries d on d.id = a.delivery_id where d.instance = $1 and d.target = 'chatwoot'", instance));

        // The hang ends in a timeout, recorded as a failed attempt to retry.
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync(
            "select count(*) from relay_attempts a join relay_deliveries d on d.id = a.delivery_id where d.instance = $1 and d.target = 'chatwoot' and a.error like 'No answer within 5 s%'", instance) >= 1,
            TimeSpan.FromSeconds(20), "a recorded timeout");
    }

    [Fact]
    public async Task TwoRelayProcesses_DrainingOneOutbox_NeverSendADeliveryTwice()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance, chatwoot: false, n8nOrdered: false));
        var prefix = ((Sentinel.Core.Identity.IdentityOptions)_kit.Host.Services.GetService(typeof(Sentinel.Core.Identity.IdentityOptions))!).TablePrefix;
        var settings = new Dictionary<string, string>(RelayKit.FastRetries)
        {
            ["ConnectionStrings:Postgres"] = _kit.Host.Database!.ConnectionString,
            ["Identity:TablePrefix"] = prefix,
        };
        await using var second = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: settings, database: false);
        _kit.Stack.Delay = TimeSpan.FromMilliseconds(20);

        const int messages = 240;
        var jwt = "Bearer " + Sentinel.Core.Relay.EvolutionWebhook.CreateJwt(RelayKit.JwtKey, TimeProvider.System.GetUtcNow());
        await Parallel.ForEachAsync(Enumerable.Range(0, messages), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var client = i % 2 == 0 ? _kit.Host.Client : second.Client;
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/relay/evolution/{instance}")
            {
                Content = new ByteArrayContent(RelayKit.Payload("evolution-text.json", instance, keyId: $"P{i}", text: $"m{i}", remoteJid: $"55119{i % 40:D8}@s.whatsapp.net")),
            };
            request.Headers.TryAddWithoutValidation("Authorization", jwt);
            request.Content.Headers.ContentType = new("application/json");
            using var response = await client.SendAsync(request, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });

        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'delivered'", instance) == messages,
            TimeSpan.FromSeconds(60), "every delivery");
        await Task.Delay(1000);
        var received = _kit.Stack.Of("n8n");
        Assert.Equal(messages, received.Count);
        Assert.Equal(messages, received.Select(r => r.Header("webhook-id")).Distinct().Count());
        Assert.Equal(messages, await _kit.CountAsync("select count(*) from relay_attempts a join relay_deliveries d on d.id = a.delivery_id where d.instance = $1", instance));
    }

    private async Task<List<DateTimeOffset>> AttemptTimesAsync(string instance)
    {
        await using var command = _kit.Host.Database!.DataSource.CreateCommand(
            "select a.at from relay_attempts a join relay_deliveries d on d.id = a.delivery_id where d.instance = $1 order by a.attempt");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = instance });
        var list = new List<DateTimeOffset>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            list.Add(reader.GetFieldValue<DateTimeOffset>(0));
        return list;
    }
}
