using System.Security.Cryptography;
using FsCheck;
using FsCheck.Fluent;
using System.Text;
using Sentinel.Core.Relay;

namespace Sentinel.Core.Tests.Relay;

/// <summary>The webhook contracts on their own: Evolution's shapes across versions, its jwt_key token, Chatwoot's
/// signature, and the Standard Webhooks signature against the spec's published example.</summary>
public sealed class WebhookContractTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_761_055_400);

    private static EvolutionEvent Parse(string json)
    {
        Assert.True(EvolutionWebhook.TryParse(Encoding.UTF8.GetBytes(json), out var e, out var error), error);
        return e!;
    }

    private static string Upsert(string key, string message, string extra = "") =>
        """{"event":"messages.upsert","instance":"i","apikey":"LIVE-TOKEN","sender":"5511988887777@s.whatsapp.net","data":{"key":""" + key + ""","message":""" + message
        + ""","messageTimestamp":1761055391""" + extra + "}}";

    [Theory]
    [InlineData("""{"conversation":"oi"}""", "text", "oi")]
    [InlineData("""{"extendedTextMessage":{"text":"link https://x"}}""", "text", "link https://x")]
    [InlineData("""{"imageMessage":{"caption":"foto","mimetype":"image/jpeg"}}""", "image", "foto")]
    [InlineData("""{"videoMessage":{}}""", "video", null)]
    [InlineData("""{"audioMessage":{"ptt":true}}""", "audio", null)]
    [InlineData("""{"documentWithCaptionMessage":{"message":{"documentMessage":{"caption":"nota fiscal"}}}}""", "document", "nota fiscal")]
    [InlineData("""{"stickerMessage":{}}""", "sticker", null)]
    [InlineData("""{"pollCreationMessageV3":{}}""", "other", null)]
    public void MessageShapes_OfEveryVersion_GiveKindAndText(string message, string kind, string? text)
    {
        var m = Parse(Upsert("""{"remoteJid":"5511977776666@s.whatsapp.net","fromMe":false,"id":"A1"}""", message)).Message!;
        Assert.Equal(kind, m.Kind);
        Assert.Equal(text, m.Text);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1761055391), m.SentAt);
        Assert.Equal("5511977776666@s.whatsapp.net", m.ConversationJid);
    }

    [Fact]
    public void Addressing_LidGroupsAndCredentials()
    {
        var lid = Parse(Upsert("""{"remoteJid":"1844@lid","remoteJidAlt":"5511933332222@s.whatsapp.net","fromMe":false,"id":"A2"}""", """{"conversation":"x"}""")).Message!;
        Assert.Equal(("5511933332222@s.whatsapp.net", "1844@lid"), (lid.ConversationJid, lid.Lid));
        var lidOnly = Parse(Upsert("""{"remoteJid":"1844@lid","fromMe":false,"id":"A3"}""", """{"conversation":"x"}""")).Message!;
        Assert.Equal("1844@lid", lidOnly.ConversationJid);
        var group = Parse(Upsert("""{"remoteJid":"1203@g.us","participant":"5511955554444@s.whatsapp.net","fromMe":false,"id":"A4"}""", """{"conversation":"x"}""")).Message!;
        Assert.True(group.IsGroup);
        Assert.Equal("5511955554444@s.whatsapp.net", group.Author);
        var e = Parse(Upsert("""{"remoteJid":"5511977776666@s.whatsapp.net","fromMe":true,"id":"A5"}""", """{"conversation":"x"}"""));
        Assert.True(e.Message!.FromMe);
        Assert.DoesNotContain("LIVE-TOKEN", e.Payload, StringComparison.Ordinal);
        // messageTimestamp as a string (protobuf Long rendered by some builds) is read too.
        Assert.NotNull(Parse(Upsert("""{"remoteJid":"5511977776666@s.whatsapp.net","id":"A6"}""", """{"conversation":"x"}""").Replace("1761055391", "\"1761055391\"", StringComparison.Ordinal)).Message);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("""{"event":"messages.upsert","instance":"i"}""")]
    [InlineData("""{"event":"messages.upsert","instance":"i","data":{"key":{"remoteJid":"x@s.whatsapp.net"},"messageTimestamp":1}}""")]
    [InlineData("""{"event":"messages.upsert","instance":"i","data":{"key":{"remoteJid":"x@s.whatsapp.net","id":"a"}}}""")]
    [InlineData("""{"event":"messages.update","instance":"i","data":{"keyId":"a","status":"SEEN"}}""")]
    [InlineData("""{"event":"connection.update","instance":"i","data":{}}""")]
    public void InvalidWebhooks_SayWhy(string json)
    {
        Assert.False(EvolutionWebhook.TryParse(Encoding.UTF8.GetBytes(json), out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void ReceiptRanks_OnlyGoForward()
    {
        Assert.True(EvolutionWebhook.StatusRank("READ") > EvolutionWebhook.StatusRank("DELIVERY_ACK"));
        Assert.True(EvolutionWebhook.StatusRank("PLAYED") > EvolutionWebhook.StatusRank("READ"));
        Assert.Equal(0, EvolutionWebhook.StatusRank("SEEN"));
        Assert.Equal("messages-upsert", EvolutionWebhook.Suffix("messages.upsert"));
        Assert.Equal("group-participants-update", EvolutionWebhook.Suffix("group-participants.update"));
    }

    [Fact]
    public void EvolutionJwt_IsVerifiedStrictly()
    {
        const string key = "jwt-key-0123456789abcdef";
        Assert.Null(EvolutionWebhook.VerifyJwt("Bearer " + EvolutionWebhook.CreateJwt(key, Now), key, Now));
        Assert.Null(EvolutionWebhook.VerifyJwt("Bearer " + EvolutionWebhook.CreateJwt(key, Now.AddMinutes(-10)), key, Now)); // exp = iat + 600, a minute of skew
        Assert.NotNull(EvolutionWebhook.VerifyJwt("Bearer " + EvolutionWebhook.CreateJwt(key, Now.AddMinutes(-12)), key, Now));
        Assert.NotNull(EvolutionWebhook.VerifyJwt("Bearer " + EvolutionWebhook.CreateJwt(key, Now.AddMinutes(5)), key, Now));
        Assert.NotNull(EvolutionWebhook.VerifyJwt("Bearer " + EvolutionWebhook.CreateJwt("another-key-0123456789", Now), key, Now));
        Assert.NotNull(EvolutionWebhook.VerifyJwt(null, key, Now));
        Assert.NotNull(EvolutionWebhook.VerifyJwt("Basic abc", key, Now));

        // Right key, wrong claims: not an Evolution webhook token.
        var header = Convert.ToBase64String("""{"alg":"HS256"}"""u8).TrimEnd('=');
        var claims = Convert.ToBase64String(Encoding.UTF8.GetBytes($$"""{"iat":{{Now.ToUnixTimeSeconds()}},"exp":{{Now.ToUnixTimeSeconds() + 600}},"app":"other","action":"webhook"}""")).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var signature = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.ASCII.GetBytes(header + "." + claims))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Contains("Evolution webhook token", EvolutionWebhook.VerifyJwt($"Bearer {header}.{claims}.{signature}", key, Now), StringComparison.Ordinal);
        // Tampered claims.
        var good = EvolutionWebhook.CreateJwt(key, Now).Split('.');
        Assert.NotNull(EvolutionWebhook.VerifyJwt($"Bearer {good[0]}.{claims}.{good[2]}", key, Now));
    }

    [Fact]
    public void ChatwootSignature_CoversTimestampDotRawBody()
    {
        const string secret = "inbox-secret-123";
        var body = """{"event":"message_created","id":1}"""u8.ToArray();
        var ts = Now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var good = "sha256=" + Convert.ToHexStringLower(ChatwootWebhook.Sign(secret, ts, body));
        Assert.Null(ChatwootWebhook.VerifySignature(good, ts, body, secret, Now, TimeSpan.FromMinutes(5)));
        // Over the raw body alone (chatwoot#13809's mistake) it does not verify.
        var bodyOnly = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
        Assert.NotNull(ChatwootWebhook.VerifySignature(bodyOnly, ts, body, secret, Now, TimeSpan.FromMinutes(5)));
        Assert.NotNull(ChatwootWebhook.VerifySignature(good, ts, body, secret, Now.AddMinutes(6), TimeSpan.FromMinutes(5)));
        Assert.NotNull(ChatwootWebhook.VerifySignature(good, ts, [.. body, (byte)' '], secret, Now, TimeSpan.FromMinutes(5)));
        Assert.NotNull(ChatwootWebhook.VerifySignature(good[..^2], ts, body, secret, Now, TimeSpan.FromMinutes(5)));
        Assert.NotNull(ChatwootWebhook.VerifySignature("sha256=" + new string('z', 64), ts, body, secret, Now, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void ChatwootPayloads_ReadTheTopLevelMessage()
    {
        Assert.True(ChatwootWebhook.TryParse("""{"event":"message_created","id":9,"content":"top","message_type":"outgoing","private":true,"sender":{"type":"user"},"conversation":{"id":88,"messages":[{"id":1,"content":"nested"}],"meta":{"sender":{"identifier":"5511@s.whatsapp.net"}}}}"""u8.ToArray(), out var m, out _));
        Assert.Equal(("top", 9L, 88L, true, "user"), (m!.Content, m.MessageId!.Value, m.ConversationId!.Value, m.Private, m.SenderType));
        Assert.True(ChatwootWebhook.TryParse("""{"event":"conversation_updated","id":88,"status":"open","meta":{"assignee":{"id":3}}}"""u8.ToArray(), out var c, out _));
        Assert.Equal(("open", true), (c!.Status, c.HasAssignee!.Value));
    }

    [Fact]
    public void Parsers_NeverThrow_OnArbitraryOrMutatedInput()
    {
        // Property: whatever bytes arrive (random, or a real payload with bytes flipped or cut), the parsers and verifiers
        // answer valid or invalid with a reason; they never throw (a throw would be a 500 for a sender's mistake).
        var real = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "payloads", "relay", "evolution-text.json"));
        var mutated = from cut in Gen.Choose(0, real.Length)
                      from flips in Gen.ListOf(Gen.Zip(Gen.Choose(0, real.Length - 1), Gen.Choose(0, 255)))
                      select Mutate(real, cut, flips);
        var bytes = Gen.OneOf(ArbMap.Default.GeneratorFor<byte[]>(), mutated);
        Prop.ForAll(bytes.ToArbitrary(), body =>
        {
            var ok = EvolutionWebhook.TryParse(body, out var e, out var error);
            Assert.True(ok ? e is not null : !string.IsNullOrEmpty(error));
            ok = ChatwootWebhook.TryParse(body, out var c, out error);
            Assert.True(ok ? c is not null : !string.IsNullOrEmpty(error));
            var text = Encoding.UTF8.GetString(body);
            Assert.NotNull(EvolutionWebhook.VerifyJwt("Bearer " + text, "jwt-key-0123456789abcdef", Now));
            Assert.NotNull(ChatwootWebhook.VerifySignature(text, text, body, "secret", Now, TimeSpan.FromMinutes(5)));
        }).QuickCheckThrowOnFailure();
    }

    private static byte[] Mutate(byte[] source, int cut, IEnumerable<(int Index, int Value)> flips)
    {
        var copy = source[..cut];
        foreach (var (index, value) in flips)
        {
            if (index < copy.Length)
                copy[index] = (byte)value;
        }

        return copy;
    }

    [Fact]
    public void StandardWebhookSignature_MatchesTheSpecExample()
    {
        // standard-webhooks spec README example.
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            RelaySender.StandardWebhookSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", """{"test": 2432232314}"""u8));
        Assert.Equal("5511977776666", RelaySender.PhoneOf("5511977776666@s.whatsapp.net"));
        Assert.Equal("5511977776666", RelaySender.PhoneOf("5511977776666:12@s.whatsapp.net"));
        Assert.Null(RelaySender.PhoneOf("1203@g.us"));
        Assert.Null(RelaySender.PhoneOf("1844@lid"));
    }
}
