using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Sentinel.Core.Relay;

/// <summary>A Chatwoot webhook, reduced to what the relay acts on.</summary>
internal sealed record ChatwootEvent(
    string Event, long? ConversationId, string? ContactIdentifier, string? ContactSourceId,
    long? MessageId, string? Content, string? MessageType, bool Private, string? SourceId, string? SenderType, string? SenderName,
    string? Status, bool? HasAssignee);

/// <summary>
/// Reads and verifies Chatwoot's webhooks (research: chatbot-stack-payloads.md §2.4–2.6). The signature is
/// <c>X-Chatwoot-Signature: sha256=hex(HMAC-SHA256(secret, "{X-Chatwoot-Timestamp}.{raw body}"))</c> (PR #13573,
/// #13892; #13809 is what happens when the "{timestamp}." prefix is left out), checked on the raw bytes before parsing.
/// Messages are read from the top level, never from <c>conversation.messages[0]</c>, which Chatwoot re-queries when the
/// job runs and can repeat the newest message (#11901).
/// </summary>
internal static class ChatwootWebhook
{
    /// <summary>Outbound messages carry this in <c>source_id</c> so their webhook echo is recognised (Evolution's own bridge does the same).</summary>
    public const string EchoPrefix = "WAID:";

    public static string? VerifySignature(string? signature, string? timestamp, ReadOnlySpan<byte> body, string secret, DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrEmpty(signature) || string.IsNullOrEmpty(timestamp))
            return "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required (Chatwoot 4.13+ signs API-inbox webhooks with the inbox's secret).";
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 253402300799)
            return "X-Chatwoot-Timestamp is Unix seconds.";
        if (Math.Abs(now.ToUnixTimeSeconds() - seconds) > tolerance.TotalSeconds)
            return $"X-Chatwoot-Timestamp is more than {tolerance.TotalMinutes:0} minutes from now: a stale or replayed delivery.";
        if (!signature.StartsWith("sha256=", StringComparison.Ordinal) || signature.Length != 7 + 64)
            return "X-Chatwoot-Signature is sha256=<64 hex digits>.";
        byte[] given;
        try
        {
            given = Convert.FromHexString(signature.AsSpan(7));
        }
        catch (FormatException)
        {
            return "X-Chatwoot-Signature is sha256=<64 hex digits>.";
        }

        return CryptographicOperations.FixedTimeEquals(Sign(secret, timestamp, body), given) ? null : "X-Chatwoot-Signature does not match the route's chatwoot.webhookSecret.";
    }

    public static byte[] Sign(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.ASCII.GetBytes(timestamp + "."));
        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }

    public static bool TryParse(ReadOnlyMemory<byte> body, out ChatwootEvent? parsed, out string? error)
    {
        parsed = null;
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || Str(root, "event") is not { } eventName)
            {
                error = "A Chatwoot webhook is a JSON object with an event.";
                return false;
            }

            if (eventName.StartsWith("message_", StringComparison.Ordinal))
            {
                var conversation = Obj(root, "conversation");
                parsed = new ChatwootEvent(eventName, Long(conversation, "id"), Str(Obj(Obj(conversation, "meta"), "sender"), "identifier"),
                    Str(Obj(conversation, "contact_inbox"), "source_id"),
                    Long(root, "id"), Str(root, "content"), Str(root, "message_type"),
                    root.TryGetProperty("private", out var p) && p.ValueKind == JsonValueKind.True,
                    Str(root, "source_id"), Str(Obj(root, "sender"), "type"), Str(Obj(root, "sender"), "name"),
                    Str(conversation, "status"), null);
            }
            else
            {
                // conversation_* events are the conversation itself plus event (and changed_attributes).
                var meta = Obj(root, "meta");
                bool? assignee = meta is { } m && m.TryGetProperty("assignee", out var a) ? a.ValueKind == JsonValueKind.Object : null;
                parsed = new ChatwootEvent(eventName, Long(root, "id"), Str(Obj(meta, "sender"), "identifier"), Str(Obj(root, "contact_inbox"), "source_id"),
                    null, null, null, false, null, null, null, Str(root, "status"), assignee);
            }

            error = null;
            return true;
        }
        catch (JsonException e)
        {
            error = "The body is not JSON: " + e.Message;
            return false;
        }
    }

    private static JsonElement? Obj(JsonElement? e, string name) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    private static string? Str(JsonElement? e, string name) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long? Long(JsonElement? e, string name) =>
        e is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l : null;
}
