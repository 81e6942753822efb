using System.Net;
using System.Text;
using Sentinel.Core.Relay;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Relay;

/// <summary>
/// Evolution and Chatwoot webhooks over real HTTP, with the recorded payloads (tests/payloads/relay, built from the
/// research document's Evolution 2.3 and Chatwoot shapes), against real PostgreSQL, Redis and Azurite, and stand-ins
/// for n8n, Chatwoot and Evolution on loopback.
/// </summary>
public sealed class RelayIngressTests : IAsyncLifetime
{
    private RelayKit _kit = null!;

    public async Task InitializeAsync() => _kit = await RelayKit.StartAsync();

    public async Task DisposeAsync() => await _kit.DisposeAsync();

    [Fact]
    public async Task RecordedPayloads_AreNormalized_RoutedToTheOwner_AndMirrored()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance));

        foreach (var file in new[] { "evolution-text.json", "evolution-extended-text.json", "evolution-image-caption.json", "evolution-group.json", "evolution-lid.json",
                     "evolution-fromme.json", "evolution-connection.json" })
        {
            var (status, body, _) = await _kit.PostEvolutionAsync(instance, RelayKit.Payload(file, instance), suffix: file == "evolution-connection.json" ? "/connection-update" : null);
            Assert.True(status == HttpStatusCode.OK, $"{file}: {(int)status} {body}");
            Assert.Equal("stored", body.GetProperty("status").GetString());
        }

        // Five customer messages reach n8n (never the fromMe one), each with Standard Webhooks headers and header auth.
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("n8n").Count >= 5 && _kit.Stack.Of("chatwoot").Count(r => r.Path.EndsWith("/messages", StringComparison.Ordinal)) >= 6,
            TimeSpan.FromSeconds(20), "deliveries");
        var n8n = _kit.Stack.Of("n8n");
        Assert.Equal(5, n8n.Count);
        var texts = n8n.Select(r => r.Json.GetProperty("message").TryGetProperty("text", out var t) ? t.GetString() : null).ToList();
        Assert.Contains("Olá, quero um orçamento", texts);
        Assert.Contains("Segue o link https://loja.example.com/p/42", texts);
        Assert.Contains("Foto do produto com defeito", texts);
        Assert.DoesNotContain(texts, t => t is not null && t.Contains("digitado no celular", StringComparison.Ordinal));
        foreach (var r in n8n)
        {
            Assert.Equal("n8n-header-secret", r.Header("X-N8N-Auth"));
            Assert.StartsWith("msg_", r.Header("webhook-id"), StringComparison.Ordinal);
            Assert.StartsWith("v1,", r.Header("webhook-signature"), StringComparison.Ordinal);
            Assert.DoesNotContain("B6D711FCDE4D4FD5936544120E713976", r.Body, StringComparison.Ordinal);
            Assert.Equal("message.received", r.Json.GetProperty("type").GetString());
        }

        var group = n8n.Single(r => r.Json.GetProperty("conversation").GetProperty("group").GetBoolean());
        Assert.Equal("120363025246125888@g.us", group.Json.GetProperty("conversation").GetProperty("customer").GetProperty("jid").GetString());
        Assert.Equal("5511955554444@s.whatsapp.net", group.Json.GetProperty("message").GetProperty("author").GetString());
        // @lid: the conversation is keyed by the phone JID from remoteJidAlt, not the LID.
        var lid = n8n.Single(r => r.Json.GetProperty("message").GetProperty("text").GetString() == "Vi o anúncio no Instagram");
        Assert.Equal("5511933332222@s.whatsapp.net", lid.Json.GetProperty("conversation").GetProperty("customer").GetProperty("jid").GetString());
        // The customer is the chat (remoteJid), never the envelope's sender (the instance's own number).
        Assert.DoesNotContain(n8n, r => r.Json.GetProperty("conversation").GetProperty("customer").GetProperty("jid").GetString() == "5511988887777@s.whatsapp.net");

        // The receiver can check the signature with the secret the route answered once.
        Assert.Equal(1, await _kit.CountAsync("select count(*) from relay_instances where instance = $1 and state = 'open'", instance));
        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_messages where payload::text like '%B6D711FCDE4D4FD5936544120E713976%'"));

        // Maria's conversation: text, extended text, caption and the fromMe mirror, in messageTimestamp order, with decisions.
        var conversationId = await ConversationOfAsync(instance, "5511977776666@s.whatsapp.net");
        var detail = await _kit.ConversationAsync(conversationId);
        var messages = detail.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["text", "text", "image", "text"], messages.Select(m => m.GetProperty("kind").GetString()));
        Assert.Equal("outbound", messages[3].GetProperty("direction").GetString());
        Assert.Contains("not sent to the bot", messages[3].GetProperty("decision").GetString(), StringComparison.Ordinal);
        Assert.Contains("owner bot → n8n", messages[0].GetProperty("decision").GetString(), StringComparison.Ordinal);
        Assert.Equal("Maria", detail.GetProperty("conversation").GetProperty("customerName").GetString());
        var chatwootMirror = _kit.Stack.Of("chatwoot").Where(r => r.Path.EndsWith("/messages", StringComparison.Ordinal)).Select(r => r.Json).ToList();
        Assert.Contains(chatwootMirror, m => m.GetProperty("message_type").GetString() == "outgoing" && m.GetProperty("content").GetString()!.Contains("celular", StringComparison.Ordinal));
        Assert.All(chatwootMirror, m => Assert.StartsWith(ChatwootWebhook.EchoPrefix, m.GetProperty("source_id").GetString(), StringComparison.Ordinal));
        // One Chatwoot contact and conversation per WhatsApp conversation, created pending (the bot owns it).
        var created = _kit.Stack.Of("chatwoot").Where(r => r.Path.EndsWith("/conversations", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, created.Count);
        Assert.All(created, c => Assert.Equal("pending", c.Json.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task SameWebhookFiveTimes_OneMessage_OneDeliveryPerTarget_EvenWithRedisForgotten()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance));
        var payload = RelayKit.Payload("evolution-text.json", instance);

        var answers = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => _kit.PostEvolutionAsync(instance, payload)));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Equal(1, answers.Count(a => a.Body.GetProperty("status").GetString() == "stored"));
        Assert.Equal(4, answers.Count(a => a.Body.GetProperty("status").GetString() == "duplicate"));

        // Redis is only the fast path: with its key gone, the unique constraint still says duplicate.
        var keys = (Sentinel.Core.Storage.RedisKeys)_kit.Host.Services.GetService(typeof(Sentinel.Core.Storage.RedisKeys))!;
        var redis = (Sentinel.Core.Storage.RedisConnection)_kit.Host.Services.GetService(typeof(Sentinel.Core.Storage.RedisConnection))!;
        await (await redis.GetDatabaseAsync(CancellationToken.None)).KeyDeleteAsync(keys.RelaySeen(_kit.TenantId, "evolution:" + instance, "3EB0A1C2D3E4F5A6B7C8"));
        var again = await _kit.PostEvolutionAsync(instance, payload);
        Assert.Equal("duplicate", again.Body.GetProperty("status").GetString());

        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("n8n").Count >= 1 && _kit.Stack.Of("chatwoot").Any(r => r.Path.EndsWith("/messages", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(20), "deliveries");
        await Task.Delay(1500);
        Assert.Single(_kit.Stack.Of("n8n"));
        Assert.Single(_kit.Stack.Of("chatwoot"), r => r.Path.EndsWith("/messages", StringComparison.Ordinal));
        Assert.Equal(1, await _kit.CountAsync("select count(*) from relay_messages where instance = $1", instance));
        Assert.Equal(2, await _kit.CountAsync("select count(*) from relay_deliveries where instance = $1", instance));
    }

    [Fact]
    public async Task BadInput_GetsProblems_AndStoresNothing()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance));
        var payload = RelayKit.Payload("evolution-text.json", instance);
        var now = TimeProvider.System.GetUtcNow();

        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials", await _kit.PostEvolutionAsync(instance, payload, authorization: null));
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials",
            await _kit.PostEvolutionAsync(instance, payload, "Bearer " + EvolutionWebhook.CreateJwt("a-forged-key-of-the-right-length", now)));
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials",
            await _kit.PostEvolutionAsync(instance, payload, "Bearer " + EvolutionWebhook.CreateJwt(RelayKit.JwtKey, now.AddMinutes(-15))));
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials", await _kit.PostEvolutionAsync(instance, payload, "Bearer not.a.jwt"));
        // An "alg: none" token with the right claims is refused.
        var none = Convert.ToBase64String("""{"alg":"none"}"""u8).TrimEnd('=') + "." + EvolutionWebhook.CreateJwt(RelayKit.JwtKey, now).Split('.')[1] + ".";
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials", await _kit.PostEvolutionAsync(instance, payload, "Bearer " + none));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "unknown-instance", await _kit.PostEvolutionAsync("no-such-instance", payload));
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "invalid-webhook", await _kit.PostEvolutionAsync(instance, "{not json"u8.ToArray()));
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "invalid-webhook", await _kit.PostEvolutionAsync(instance, """{"event":"messages.upsert","instance":"x"}"""u8.ToArray()));
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "instance-mismatch",
            await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", "someone-else")));
        var oversized = Encoding.UTF8.GetBytes("{\"event\":\"messages.upsert\",\"pad\":\"" + new string('x', 1024 * 1024 + 10) + "\"}");
        GatewayClient.AssertProblem(HttpStatusCode.RequestEntityTooLarge, "payload-too-large", await _kit.PostEvolutionAsync(instance, oversized));

        // Chatwoot: forged signature, stale timestamp, missing signature.
        var chatwoot = Payloads.Read("relay/chatwoot-message-outgoing.json");
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-signature", await _kit.PostChatwootAsync(instance, chatwoot, secret: "not-the-inbox-secret-at-all"));
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-signature",
            await _kit.PostChatwootAsync(instance, chatwoot, timestamp: now.AddMinutes(-6).ToUnixTimeSeconds()));
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-signature", await _kit.PostRawAsync($"/api/relay/chatwoot/{instance}", chatwoot, null));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "unknown-instance", await _kit.PostChatwootAsync("no-such-instance", chatwoot));

        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_messages"));
        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_conversations"));
        Assert.Equal(0, await _kit.CountAsync("select count(*) from relay_webhook_receipts"));
        await Task.Delay(300);
        Assert.Empty(_kit.Stack.Requests);
    }

    [Fact]
    public async Task HeaderAndPathSecretRoutes_Authenticate_AndPathRoutesCarryTheGlobalWebhooksOtherInstances()
    {
        var header = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(header, auth: new { mode = "header", headerName = "Authorization", headerValue = "Bearer static-secret-0123456789" }));
        var ok = await _kit.PostEvolutionAsync(header, RelayKit.Payload("evolution-text.json", header), "Bearer static-secret-0123456789", "/messages-upsert");
        Assert.Equal(HttpStatusCode.OK, ok.Status);
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials",
            await _kit.PostEvolutionAsync(header, RelayKit.Payload("evolution-text.json", header, keyId: "K2"), "Bearer static-secret-01234567890"));

        // Path auth: the global webhook (no headers) posts every instance of the server to one URL.
        var global = RelayKit.NewInstance();
        var saved = await _kit.CreateRouteAsync(_kit.Route(global, auth: new { mode = "path" }));
        var secret = saved.GetProperty("pathSecret").GetString()!;
        Assert.EndsWith($"/api/relay/evolution/{global}/{secret}", saved.GetProperty("route").GetProperty("evolutionWebhookUrl").GetString(), StringComparison.Ordinal);
        var (listStatus, listed, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/routes", null, _kit.Admin);
        Assert.Equal(HttpStatusCode.OK, listStatus);
        Assert.DoesNotContain(secret, listed.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain(RelayKit.JwtKey, listed.GetRawText(), StringComparison.Ordinal);

        var second = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(second, auth: new { mode = "path" }));
        Assert.Equal("stored", (await _kit.PostEvolutionAsync(global, RelayKit.Payload("evolution-text.json", global), null, $"/{secret}/messages-upsert")).Body.GetProperty("status").GetString());
        Assert.Equal("stored", (await _kit.PostEvolutionAsync(global, RelayKit.Payload("evolution-text.json", second), null, $"/{secret}")).Body.GetProperty("status").GetString());
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials",
            await _kit.PostEvolutionAsync(global, RelayKit.Payload("evolution-text.json", global, keyId: "K3"), null, "/" + Sentinel.Core.Identity.Ids.NewSecret() + "/messages-upsert"));
        GatewayClient.AssertProblem(HttpStatusCode.Unauthorized, "invalid-webhook-credentials",
            await _kit.PostEvolutionAsync(global, RelayKit.Payload("evolution-text.json", global, keyId: "K3"), null, "/messages-upsert"));
        // A one-word by-events suffix (/call) is not mistaken for the secret.
        Assert.Equal(HttpStatusCode.OK, (await _kit.PostEvolutionAsync(global, RelayKit.Payload("evolution-connection.json", global), null, $"/{secret}/call")).Status);
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found",
            await _kit.PostEvolutionAsync(global, RelayKit.Payload("evolution-text.json", global, keyId: "K4"), null, $"/{secret}/messages-upsert/extra"));
        Assert.Equal(1, await _kit.CountAsync("select count(*) from relay_messages where instance = $1", second));
    }

    [Fact]
    public async Task Receipts_OnlyMoveStatusForward_AndEchoesOfOurSendsAreDropped()
    {
        var instance = RelayKit.NewInstance();
        await _kit.CreateRouteAsync(_kit.Route(instance, chatwoot: false));
        await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance));
        var conversation = await ConversationOfAsync(instance, "5511977776666@s.whatsapp.net");

        // An n8n flow answers through the API; Evolution returns the WhatsApp id; the echo (send.message and the
        // fromMe upsert with that id) is recognised and not stored again or fed to the bot.
        var (status, sent, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, $"/api/relay/conversations/{conversation}/messages", new { text = "Recebido!" }, _kit.Admin);
        Assert.Equal(HttpStatusCode.Accepted, status);
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("evolution").Count == 1, TimeSpan.FromSeconds(20), "the send");
        var send = _kit.Stack.Of("evolution")[0];
        Assert.Equal($"/evolution/message/sendText/{instance}", send.Path);
        Assert.Equal("evolution-instance-token", send.Header("apikey"));
        Assert.Equal("5511977776666", send.Json.GetProperty("number").GetString());
        Assert.Equal("Recebido!", send.Json.GetProperty("text").GetString());
        await RelayKit.WaitUntilAsync(async () => await _kit.CountAsync("select count(*) from relay_messages where instance = $1 and external_id like 'SENT%'", instance) == 1,
            TimeSpan.FromSeconds(10), "the send's id");
        var keyId = (string)(await _kit.ScalarAsync("select external_id from relay_messages where id = $1", sent.GetProperty("message").GetInt64()))!;

        var echo = await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-send-message.json", instance, keyId: keyId, text: "Recebido!"));
        Assert.NotEqual("stored", echo.Body.GetProperty("status").GetString());
        var upsertEcho = await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-fromme.json", instance, keyId: keyId, text: "Recebido!"));
        Assert.NotEqual("stored", upsertEcho.Body.GetProperty("status").GetString());

        Assert.Equal("stored", (await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-receipt.json", instance, keyId: keyId))).Body.GetProperty("status").GetString());
        var older = RelayKit.Payload("evolution-receipt.json", instance, keyId: keyId).AsSpan().ToArray();
        var stale = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(older).Replace("\"READ\"", "\"DELIVERY_ACK\"", StringComparison.Ordinal));
        Assert.Equal("ignored", (await _kit.PostEvolutionAsync(instance, stale)).Body.GetProperty("status").GetString());
        Assert.Equal("READ", await _kit.ScalarAsync("select status from relay_messages where external_id = $1", keyId));
        Assert.Equal(2, await _kit.CountAsync("select count(*) from relay_messages where instance = $1", instance));
        await Task.Delay(500);
        Assert.Single(_kit.Stack.Of("n8n"));
    }

    private async Task<string> ConversationOfAsync(string instance, string jid) =>
        (string)(await _kit.ScalarAsync("select id from relay_conversations where instance = $1 and customer_jid = $2", instance, jid))!;
}
