using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Relay;

/// <summary>One owner per conversation: hand-over through the API and from Chatwoot's own events, both ways, agent
/// replies to WhatsApp, and messages racing a hand-over each going to exactly one owner.</summary>
public sealed class RelayHandoverTests : IAsyncLifetime
{
    private RelayKit _kit = null!;

    public async Task InitializeAsync() => _kit = await RelayKit.StartAsync();

    public async Task DisposeAsync() => await _kit.DisposeAsync();

    [Fact]
    public async Task ChatwootOpensAndResolves_OwnershipFollows_AgentRepliesGoToWhatsApp_PrivateNotesAndEchoesDoNot()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance));
        await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "H1"));
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("n8n").Count == 1 && _kit.Stack.Of("chatwoot").Any(r => r.Path.EndsWith("/messages", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(20), "the first message");
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_conversations where instance = $1 and chatwoot_conversation_id is not null", instance) == 1,
            TimeSpan.FromSeconds(10), "the Chatwoot conversation id");
        var conversation = (await _kit.ConversationAsync(await ConversationIdAsync(instance))).GetProperty("conversation");
        var cwId = conversation.GetProperty("chatwootConversationId").GetInt64();

        var (_, before, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/conversations/{conversation.GetProperty("id").GetString()}/owner", null, _kit.Admin);
        Assert.Equal("bot", before.GetProperty("owner").GetString());

        // Chatwoot reports the conversation opened (a human took it): the customer's next message goes to Chatwoot only.
        var opened = WithConversation("chatwoot-status-open.json", cwId);
        var first = await _kit.PostChatwootAsync(instance, opened, delivery: "d-open");
        Assert.Equal("stored", first.Body.GetProperty("status").GetString());
        Assert.Equal("duplicate", (await _kit.PostChatwootAsync(instance, opened, delivery: "d-open")).Body.GetProperty("status").GetString());
        // The owner read (cached in Redis by the read before) follows Chatwoot's change at once.
        var (_, owner, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/conversations/{conversation.GetProperty("id").GetString()}/owner", null, _kit.Admin);
        Assert.Equal("human", owner.GetProperty("owner").GetString());
        await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "H2", text: "Ainda está aí?"));

        // The agent answers in Chatwoot: it goes to WhatsApp once, even when Chatwoot's Sidekiq retries the webhook.
        var reply = WithConversation("chatwoot-message-outgoing.json", cwId);
        Assert.Equal("stored", (await _kit.PostChatwootAsync(instance, reply, delivery: "d-reply")).Body.GetProperty("status").GetString());
        Assert.Equal("duplicate", (await _kit.PostChatwootAsync(instance, reply, delivery: "d-reply")).Body.GetProperty("status").GetString());
        Assert.Equal("ignored", (await _kit.PostChatwootAsync(instance, WithConversation("chatwoot-message-private.json", cwId))).Body.GetProperty("status").GetString());
        Assert.Equal("ignored", (await _kit.PostChatwootAsync(instance, WithConversation("chatwoot-message-incoming-echo.json", cwId))).Body.GetProperty("status").GetString());
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("evolution").Count == 1, TimeSpan.FromSeconds(20), "the agent's reply");
        Assert.Equal("Seu pedido saiu para entrega", _kit.Stack.Of("evolution")[0].Json.GetProperty("text").GetString());

        // Resolved: back to the bot.
        await _kit.PostChatwootAsync(instance, WithConversation("chatwoot-status-resolved.json", cwId));
        await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "H3", text: "Obrigada!"));
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("n8n").Count == 2, TimeSpan.FromSeconds(20), "the bot's second message");
        await Task.Delay(1000);
        Assert.Equal(["Olá, quero um orçamento", "Obrigada!"], _kit.Stack.Of("n8n").Select(r => r.Json.GetProperty("message").GetProperty("text").GetString()));
        Assert.Single(_kit.Stack.Of("evolution"));

        var detail = await _kit.ConversationAsync(conversation.GetProperty("id").GetString()!);
        var handovers = detail.GetProperty("handovers").EnumerateArray().ToList();
        Assert.Equal(["human", "bot"], handovers.Select(h => h.GetProperty("to").GetString()));
        Assert.All(handovers, h => Assert.Equal("chatwoot", h.GetProperty("actor").GetString()));
        var decisions = detail.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("decision").GetString()).ToList();
        Assert.Contains(decisions, d => d!.StartsWith("owner human → Chatwoot only", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HandoverThroughTheApi_BothWays_WithMessagesRacingTheSwitch_EachMessageHasExactlyOneOwner()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance, chatwoot: false));
        await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "S0"));
        var id = await ConversationIdAsync(instance);

        // An n8n flow hands over with an API key scoped relay:write.
        var (_, key, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "n8n", scopes = new[] { "relay:write", "relay:read" } }, _kit.Admin);
        var flow = "ApiKey " + key.GetProperty("key").GetString();

        for (var round = 0; round < 2; round++)
        {
            var to = round == 0 ? "human" : "bot";
            var sends = Enumerable.Range(0, 30).Select(i => _kit.PostEvolutionAsync(instance,
                RelayKit.Payload("evolution-text.json", instance, keyId: $"S{round}-{i}", text: $"r{round} m{i}"))).ToList();
            await Task.Delay(5);
            var (status, answer, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/conversations/{id}/handover", new { to, reason = "flow decided" }, flow);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(answer.GetProperty("changed").GetBoolean());
            await Task.WhenAll(sends);
            // Once the hand-over has answered, the next message is the new owner's.
            var after = await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: $"S{round}-after", text: $"r{round} after"));
            Assert.Contains(round == 0 ? "owner human" : "owner bot → n8n", after.Body.GetProperty("decision").GetString(), StringComparison.Ordinal);
            // Idempotent: the same hand-over again changes nothing.
            Assert.False((await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/conversations/{id}/handover", new { to }, flow)).Body.GetProperty("changed").GetBoolean());
            var (_, owner, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/conversations/{id}/owner", null, flow);
            Assert.Equal(to, owner.GetProperty("owner").GetString());
        }

        // In commit order (message ids follow the conversation's row lock), the messages routed to n8n are exactly those
        // committed while the bot owned the conversation: before the first hand-over and after the second.
        var detail = await _kit.ConversationAsync(id);
        var messages = detail.GetProperty("messages").EnumerateArray().Select(m => (Id: m.GetProperty("id").GetInt64(), ToBot: m.GetProperty("decision").GetString()!.Contains("→ n8n", StringComparison.Ordinal))).ToList();
        Assert.Equal(63, messages.Count);
        // Racing messages may land on either side of a switch, but the routing never interleaves: bot…, human…, bot….
        var runs = messages.Select(m => m.ToBot).Aggregate(new List<bool>(), (acc, b) =>
        {
            if (acc.Count == 0 || acc[^1] != b)
                acc.Add(b);
            return acc;
        });
        Assert.Equal([true, false, true], runs);
        Assert.Equal(["human", "bot"], detail.GetProperty("handovers").EnumerateArray().Select(h => h.GetProperty("to").GetString()));

        var toBot = messages.Count(m => m.ToBot);
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("n8n").Count == toBot, TimeSpan.FromSeconds(30), "the bot's messages");
        await Task.Delay(1000);
        Assert.Equal(toBot, _kit.Stack.Of("n8n").Count);

        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed",
            await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/conversations/{id}/handover", new { to = "robot" }, flow));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found",
            await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/conversations/nosuchconversation/handover", new { to = "bot" }, flow));
        // Another tenant cannot see or move it.
        var (other, _, _, _) = await _kit.Host.Client.SignupAsync();
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found",
            await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/conversations/{id}/handover", new { to = "human" }, GatewayClient.Bearer(other)));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found",
            await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/conversations/{id}", null, GatewayClient.Bearer(other)));
        // A read-only key cannot hand over.
        var (_, reader, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "dash", scopes = new[] { "relay:read" } }, _kit.Admin);
        Assert.Equal(HttpStatusCode.Forbidden, (await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/conversations/{id}/handover", new { to = "human" },
            "ApiKey " + reader.GetProperty("key").GetString())).Status);
    }

    [Fact]
    public async Task Botpress_AnswersComeBackAsOrderedSends_AndStatsCountThem()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance, n8n: false, chatwoot: false, botpress: true));
        for (var i = 0; i < 3; i++)
            await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: $"B{i}", text: $"pergunta {i}"));
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("evolution").Count == 3, TimeSpan.FromSeconds(20), "the bot's answers");
        Assert.Equal(["bot: pergunta 0", "bot: pergunta 1", "bot: pergunta 2"], _kit.Stack.Of("evolution").Select(r => r.Json.GetProperty("text").GetString()));
        Assert.All(_kit.Stack.Of("botpress"), r => Assert.EndsWith("/api/v1/bots/vendas/converse/5511977776666@s.whatsapp.net", r.Path, StringComparison.Ordinal));

        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1 and state = 'delivered'", instance) == 6,
            TimeSpan.FromSeconds(10), "six recorded deliveries");
        var (status, stats, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/stats?window=15m", null, _kit.Admin);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(6, stats.GetProperty("messages").GetInt64());
        Assert.Equal(6, stats.GetProperty("delivered").GetInt64());
        Assert.Equal(1.0, stats.GetProperty("successRate").GetDouble());
        Assert.True(stats.GetProperty("latencyP99Ms").GetDouble() > 0);
        Assert.Equal(0, stats.GetProperty("backlog").GetInt64());
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/stats?window=forever", null, _kit.Admin));
        // This instance's dispatcher in the health answer.
        var (_, health, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/health");
        Assert.True(health.GetProperty("relay").GetProperty("delivered").GetInt64() >= 6);
        Assert.Equal(0, health.GetProperty("relay").GetProperty("openBreakers").GetInt32());

        // And as meters: sentinel.relay.attempts{outcome=delivered} counts them (other hosts in this test process publish too).
        _ = _kit.Host.Services.GetService(typeof(Sentinel.Functions.Diagnostics.SentinelMetrics));
        var delivered = new List<long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Sentinel.Functions.Diagnostics.SentinelMetrics.MeterName && instrument.Name == "sentinel.relay.attempts")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "outcome", Value: "delivered" })
                    delivered.Add(value);
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Contains(delivered, v => v >= 6);
    }

    private async Task<string> ConversationIdAsync(string instance) =>
        (string)(await _kit.ScalarAsync("select id from relay_conversations where instance = $1", instance))!;

    /// <summary>A recorded Chatwoot payload pointed at the Chatwoot conversation the relay created.</summary>
    private static byte[] WithConversation(string file, long chatwootConversationId)
    {
        var node = JsonNode.Parse(Payloads.Read("relay/" + file))!;
        if (node["conversation"] is JsonObject conversation)
            conversation["id"] = chatwootConversationId;
        else
            node["id"] = chatwootConversationId;
        return Encoding.UTF8.GetBytes(node.ToJsonString());
    }
}
