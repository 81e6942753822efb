using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sentinel.Core.Relay;

/// <summary>An incoming or outgoing WhatsApp message as Evolution reports it (<c>messages.upsert</c>, <c>send.message</c>).</summary>
internal sealed record EvolutionMessage(
    string KeyId, string ConversationJid, string? Lid, bool IsGroup, bool FromMe, string? Author, string? PushName,
    string Kind, string? Text, DateTimeOffset SentAt, string? Status);

/// <summary>A receipt (<c>messages.update</c>): a message's status moved.</summary>
internal sealed record EvolutionReceipt(string KeyId, string Status);

/// <summary>A <c>connection.update</c>: the instance's WhatsApp session state.</summary>
internal sealed record EvolutionConnection(string State, int? Reason);

/// <summary>One parsed Evolution webhook: its event, instance, the one part the relay acts on, and the payload minus credentials.</summary>
internal sealed record EvolutionEvent(string Event, string Instance, EvolutionMessage? Message, EvolutionReceipt? Receipt, EvolutionConnection? Connection, string Payload);

/// <summary>
/// Reads Evolution API v2 webhooks (research: chatbot-stack-payloads.md §1.3–1.4, Evolution 2.3.6). Accepts both text
/// shapes (<c>message.conversation</c>, normalized since 2.2.0, and <c>extendedTextMessage.text</c> from older builds) and
/// captions; resolves <c>@lid</c> chats through <c>key.remoteJidAlt</c>; keeps a group's author from <c>key.participant</c>;
/// orders by <c>data.messageTimestamp</c> because <c>date_time</c> is local time marked UTC on a non-UTC server; never
/// reads <c>sender</c> (the instance's own number) as the customer; strips <c>apikey</c> (a live instance token).
/// </summary>
internal static class EvolutionWebhook
{
    /// <summary>Receipt statuses in the only order they may move (renderStatus.ts); ERROR is terminal and ranks above.</summary>
    public static int StatusRank(string? status) => status switch
    {
        "PENDING" => 1,
        "SERVER_ACK" => 2,
        "DELIVERY_ACK" => 3,
        "READ" => 4,
        "PLAYED" => 5,
        "ERROR" => 6,
        _ => 0,
    };

    /// <summary>The by-events URL suffix of an event name (<c>messages.upsert</c> → <c>messages-upsert</c>), §1.2.</summary>
    public static string Suffix(string eventName) => eventName.Replace('.', '-').Replace('_', '-').ToLowerInvariant();

    public static bool TryParse(ReadOnlyMemory<byte> body, out EvolutionEvent? parsed, out string? error)
    {
        parsed = null;
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body.Span, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            error = "The body is not JSON: " + e.Message;
            return false;
        }

        if (root is not JsonObject envelope)
        {
            error = "The body is not an Evolution webhook: a JSON object with event, instance and data.";
            return false;
        }

        var eventName = Str(envelope, "event");
        var instance = Str(envelope, "instance");
        if (string.IsNullOrEmpty(eventName) || string.IsNullOrEmpty(instance) || envelope["data"] is not JsonObject data)
        {
            error = "An Evolution webhook has event, instance and a data object.";
            return false;
        }

        envelope.Remove("apikey");
        EvolutionMessage? message = null;
        EvolutionReceipt? receipt = null;
        EvolutionConnection? connection = null;
        switch (eventName.ToLowerInvariant())
        {
            case "messages.upsert" or "send.message":
                if (!TryReadMessage(data, out message, out error))
                    return false;
                break;
            case "messages.update" or "send.message.update":
                var keyId = Str(data, "keyId") ?? Str(data["key"] as JsonObject, "id");
                var status = Str(data, "status");
                if (keyId is null || StatusRank(status) == 0)
                {
                    error = "A messages.update has data.keyId and a known data.status (PENDING, SERVER_ACK, DELIVERY_ACK, READ, PLAYED, ERROR).";
                    return false;
                }

                receipt = new EvolutionReceipt(keyId, status!);
                break;
            case "connection.update":
                var state = Str(data, "state");
                if (state is null)
                {
                    error = "A connection.update has data.state.";
                    return false;
                }

                connection = new EvolutionConnection(state, data["statusReason"] is JsonValue v && v.TryGetValue<int>(out var reason) ? reason : null);
                break;
        }

        error = null;
        parsed = new EvolutionEvent(eventName.ToLowerInvariant(), instance, message, receipt, connection, envelope.ToJsonString());
        return true;
    }

    private static bool TryReadMessage(JsonObject data, out EvolutionMessage? message, out string? error)
    {
        message = null;
        if (data["key"] is not JsonObject key || Str(key, "id") is not { Length: > 0 and <= 128 } keyId || Str(key, "remoteJid") is not { Length: > 0 and <= 128 } remoteJid)
        {
            error = "A message event has data.key.id and data.key.remoteJid.";
            return false;
        }

        var fromMe = key["fromMe"] is JsonValue f && f.TryGetValue<bool>(out var b) && b;
        var isGroup = remoteJid.EndsWith("@g.us", StringComparison.Ordinal);
        string jid = remoteJid;
        string? lid = null;
        if (remoteJid.EndsWith("@lid", StringComparison.Ordinal))
        {
            // Baileys 7 LID addressing: the phone JID, when WhatsApp shares it, is in remoteJidAlt (research §1.4).
            lid = remoteJid;
            if (Str(key, "remoteJidAlt") is { Length: > 0 and <= 128 } alt && alt.EndsWith("@s.whatsapp.net", StringComparison.Ordinal))
                jid = alt;
        }

        var author = isGroup ? Str(key, "participantAlt") ?? Str(key, "participant") : null;
        var content = data["message"] as JsonObject;
        var (kind, text) = ReadContent(content, Str(data, "messageType"));
        DateTimeOffset sentAt;
        if (data["messageTimestamp"] is JsonValue ts && (ts.TryGetValue<long>(out var seconds) || (ts.TryGetValue<string>(out var s) && long.TryParse(s, out seconds)))
            && seconds is > 0 and < 253402300799)
        {
            sentAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        }
        else
        {
            error = "A message event has data.messageTimestamp (Unix seconds).";
            return false;
        }

        message = new EvolutionMessage(keyId, jid, lid, isGroup, fromMe, author, Cut(Str(data, "pushName"), 200), kind, text, sentAt, Str(data, "status"));
        error = null;
        return true;
    }

    /// <summary>The kind and text of a message: <c>conversation</c> ?? <c>extendedTextMessage.text</c> ?? a media caption.</summary>
    private static (string Kind, string? Text) ReadContent(JsonObject? content, string? messageType)
    {
        if (content is null)
            return ("other", null);
        if (Str(content, "conversation") is { } conversation)
            return ("text", conversation);
        if (content["extendedTextMessage"] is JsonObject extended)
            return ("text", Str(extended, "text"));
        foreach (var (field, kind) in Media)
        {
            if (content[field] is JsonObject media)
                return (kind, Str(media, "caption"));
        }

        if (content["documentWithCaptionMessage"]?["message"]?["documentMessage"] is JsonObject doc)
            return ("document", Str(doc, "caption"));
        return (messageType switch
        {
            "locationMessage" or "liveLocationMessage" => "location",
            "contactMessage" or "contactsArrayMessage" => "contact",
            "reactionMessage" => "reaction",
            _ => "other",
        }, null);
    }

    private static readonly (string Field, string Kind)[] Media =
    [
        ("imageMessage", "image"), ("videoMessage", "video"), ("ptvMessage", "video"), ("audioMessage", "audio"),
        ("documentMessage", "document"), ("stickerMessage", "sticker"), ("locationMessage", "location"),
        ("liveLocationMessage", "location"), ("contactMessage", "contact"), ("contactsArrayMessage", "contact"), ("reactionMessage", "reaction"),
    ];

    private static string? Str(JsonObject? o, string name) =>
        o?[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string? Cut(string? s, int max) => s is null || s.Length <= max ? s : s[..max];

    /// <summary>
    /// Verifies Evolution's <c>jwt_key</c> bearer token (research §1.6: HS256 over the key, claims
    /// <c>{iat, exp: iat+600, app:"evolution", action:"webhook"}</c>): algorithm pinned to HS256, signature compared in
    /// constant time, <c>exp</c> and <c>iat</c> checked with a minute of skew, <c>app</c> and <c>action</c> required.
    /// </summary>
    public static string? VerifyJwt(string? authorization, string key, DateTimeOffset now)
    {
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || authorization.Length > 4096)
            return "Send the instance's JWT as 'Authorization: Bearer …' (set headers.jwt_key on the Evolution instance's webhook).";
        var token = authorization[7..].Trim();
        var parts = token.Split('.');
        if (parts.Length != 3)
            return "The bearer token is not a JWT.";
        try
        {
            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
            if (!header.RootElement.TryGetProperty("alg", out var alg) || alg.GetString() != "HS256")
                return "The JWT must be signed with HS256.";
            var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]));
            var given = Base64Url.DecodeFromChars(parts[2]);
            if (!CryptographicOperations.FixedTimeEquals(expected, given))
                return "The JWT's signature does not match the route's jwtKey.";
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            var c = claims.RootElement;
            var unix = now.ToUnixTimeSeconds();
            if (!c.TryGetProperty("exp", out var exp) || !exp.TryGetInt64(out var expSeconds) || expSeconds + 60 < unix)
                return "The JWT has expired.";
            if (c.TryGetProperty("iat", out var iat) && iat.TryGetInt64(out var iatSeconds) && iatSeconds - 60 > unix)
                return "The JWT was issued in the future.";
            if (!c.TryGetProperty("app", out var app) || app.GetString() != "evolution" || !c.TryGetProperty("action", out var action) || action.GetString() != "webhook")
                return "The JWT is not an Evolution webhook token (app=evolution, action=webhook).";
            return null;
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return "The bearer token is not a JWT.";
        }
    }

    /// <summary>An Evolution-style webhook JWT (what Evolution's generateJwtToken sends), for tests and the benchmark.</summary>
    public static string CreateJwt(string key, DateTimeOffset now)
    {
        var header = Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8);
        var iat = now.ToUnixTimeSeconds();
        var payload = Base64Url.EncodeToString(Encoding.UTF8.GetBytes($$"""{"iat":{{iat}},"exp":{{iat + 600}},"app":"evolution","action":"webhook"}"""));
        var signature = Base64Url.EncodeToString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.ASCII.GetBytes(header + "." + payload)));
        return header + "." + payload + "." + signature;
    }

    /// <summary>Compares a static header secret in constant time.</summary>
    public static bool SecretEquals(string? given, string? expected) =>
        given is not null && expected is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
}
