using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Sentinel.Core.Relay;

/// <summary>
/// Makes one attempt of one delivery and says what came of it. n8n (or any HTTP receiver) gets the relay's event with
/// Standard Webhooks headers (<c>webhook-id</c> stable across retries and replays, <c>webhook-timestamp</c>,
/// <c>webhook-signature: v1,base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}"))</c>; anchors §2.1); Botpress gets a
/// Converse call whose replies come back as outbound messages; Chatwoot gets the contact, conversation and message
/// (research §2.2), and status changes; Evolution gets <c>sendText</c> (research §1.7) and its <c>key.id</c> is kept to
/// recognise the echo. 2xx is delivered; 410 Gone disables the target; anything else (a timeout, a refused connection,
/// 4xx, 5xx) is retried on the schedule, honouring <c>Retry-After</c>.
/// </summary>
internal sealed class RelaySender(HttpClient http, RelayOptions options, TimeProvider time)
{
    public static readonly MediaTypeHeaderValue JsonType = new("application/json") { CharSet = "utf-8" };

    private RelayOptions Options => options;

    private TimeProvider Time => time;

    public async Task<AttemptOutcome> SendAsync(DeliveryWork work, RelayRoute route, CancellationToken cancellationToken)
    {
        var settings = route.Target(work.Target);
        if (settings is null)
            return new AttemptOutcome(AttemptResult.Dead, null, 0, $"The route no longer has a {work.Target} target.");
        if (settings.DisabledAt is not null)
            return new AttemptOutcome(AttemptResult.Dead, null, 0, $"{work.Target} is disabled: {settings.DisabledReason}");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        var started = Stopwatch.GetTimestamp();
        var call = new Call(this, work, started, null);
        try
        {
            return work.Target switch
            {
                RelayTargets.N8n => await SendN8nAsync(call, route.N8n!, timeout.Token),
                RelayTargets.Botpress => await SendBotpressAsync(call, route.Botpress!, timeout.Token),
                RelayTargets.Chatwoot => await SendChatwootAsync(call, route.Chatwoot!, timeout.Token),
                RelayTargets.Evolution => await SendEvolutionAsync(call, route.Evolution!, route.Instance, timeout.Token),
                _ => new AttemptOutcome(AttemptResult.Dead, null, 0, $"Unknown target {work.Target}."),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return call.Failed(null, $"No answer within {settings.TimeoutSeconds} s.", null);
        }
        catch (HttpRequestException e)
        {
            return call.Failed(null, "Connection failed: " + e.Message, null);
        }
    }

    /// <summary>
    /// Sends a request another sender built (an alert notification) and judges the answer as every delivery's: 2xx
    /// delivered, 410 dead, anything else retried — after the delay <paramref name="schedule"/> gives for the attempt
    /// (null: give up), or later when <c>Retry-After</c> asks.
    /// </summary>
    public async Task<AttemptOutcome> SendPreparedAsync(DeliveryWork work, HttpRequestMessage request, TimeSpan timeout, Func<int, TimeSpan?> schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var call = new Call(this, work, Stopwatch.GetTimestamp(), schedule);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            return call.From(response, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return call.Failed(null, $"No answer within {timeout.TotalSeconds} s.", null);
        }
        catch (HttpRequestException e)
        {
            return call.Failed(null, "Connection failed: " + e.Message, null);
        }
    }

    /// <summary>A failure the sender decided before any request (a receiver that is gone): retried on <paramref name="schedule"/> like any other.</summary>
    public AttemptOutcome Fail(DeliveryWork work, string error, Func<int, TimeSpan?> schedule) => new Call(this, work, Stopwatch.GetTimestamp(), schedule).Failed(null, error, null);

    private async Task<AttemptOutcome> SendN8nAsync(Call call, N8nSettings n8n, CancellationToken ct)
    {
        var body = EventBody(call.Work);
        using var request = new HttpRequestMessage(HttpMethod.Post, n8n.Url) { Content = Json(body) };
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        request.Headers.TryAddWithoutValidation("webhook-id", call.Work.WebhookId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
        request.Headers.TryAddWithoutValidation("webhook-signature", StandardWebhookSignature(n8n.SigningSecret!, call.Work.WebhookId, timestamp, body));
        if (n8n.HeaderName is { } name)
            request.Headers.TryAddWithoutValidation(name, n8n.HeaderValue);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        return call.From(response, null);
    }

    private async Task<AttemptOutcome> SendBotpressAsync(Call call, BotpressSettings bp, CancellationToken ct)
    {
        var m = call.Work.Message;
        var text = m?.Text ?? $"[{m?.Kind ?? "message"}]";
        var url = $"{bp.BaseUrl!.TrimEnd('/')}/api/v1/bots/{Uri.EscapeDataString(bp.BotId!)}/converse/{Uri.EscapeDataString(call.Work.CustomerJid)}";
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = Json(Write(w => { w.WriteString("type", "text"); w.WriteString("text", text); })) };
        if (bp.Token is { } token)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
            return call.From(response, null);
        var replies = new List<string>();
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(ct));
            if (doc.RootElement.TryGetProperty("responses", out var responses) && responses.ValueKind == JsonValueKind.Array)
            {
                foreach (var r in responses.EnumerateArray())
                {
                    if (r.TryGetProperty("type", out var t) && t.GetString() == "text" && r.TryGetProperty("text", out var reply) && reply.GetString() is { Length: > 0 } s)
                        replies.Add(s);
                }
            }
        }
        catch (JsonException e)
        {
            return call.Failed((int)response.StatusCode, "Botpress answered something other than JSON: " + e.Message, null);
        }

        return call.Delivered((int)response.StatusCode) with { Replies = replies };
    }

    private async Task<AttemptOutcome> SendChatwootAsync(Call call, ChatwootSettings cw, CancellationToken ct)
    {
        var work = call.Work;
        var api = $"{cw.BaseUrl!.TrimEnd('/')}/api/v1/accounts/{cw.AccountId.ToString(CultureInfo.InvariantCulture)}";
        if (work.Operation.StartsWith("status:", StringComparison.Ordinal))
        {
            if (work.ChatwootConversationId is not { } existing)
                return call.Delivered(null) with { Error = "No Chatwoot conversation yet: nothing to change." };
            using var toggle = await PostAsync($"{api}/conversations/{existing}/toggle_status", cw, Write(w => w.WriteString("status", work.Operation[7..])), ct);
            return call.From(toggle, null);
        }

        long? contactId = work.ChatwootContactId, conversationId = work.ChatwootConversationId;
        if (conversationId is null)
        {
            // Contact (identifier = the JID, phone in E.164 when the JID is a phone), then a conversation: pending while
            // the bot owns it (hidden from agents' open view), open when humans do (research §2.2, §2.6).
            string? sourceId = null;
            var phone = PhoneOf(work.CustomerJid);
            if (contactId is null)
            {
                using var created = await PostAsync($"{api}/contacts", cw, Write(w =>
                {
                    w.WriteNumber("inbox_id", cw.InboxId);
                    w.WriteString("name", work.CustomerName ?? phone ?? work.CustomerJid);
                    w.WriteString("identifier", work.CustomerJid);
                    if (phone is not null && !work.IsGroup)
                        w.WriteString("phone_number", "+" + phone);
                }), ct);
                if (created.IsSuccessStatusCode)
                {
                    using var doc = await ReadJsonAsync(created, ct);
                    var payload = doc.RootElement.TryGetProperty("payload", out var p) ? p : doc.RootElement;
                    var contact = payload.TryGetProperty("contact", out var c) ? c : payload;
                    contactId = contact.TryGetProperty("id", out var id) && id.TryGetInt64(out var cid) ? cid : null;
                    if (payload.TryGetProperty("contact_inbox", out var ci) && ci.TryGetProperty("source_id", out var sid))
                        sourceId = sid.GetString();
                }
                else if (created.StatusCode == HttpStatusCode.UnprocessableEntity)
                {
                    contactId = await SearchContactAsync(api, cw, work.CustomerJid, ct);
                }
                else
                {
                    return call.From(created, "creating the Chatwoot contact");
                }

                if (contactId is null)
                    return call.Failed((int)created.StatusCode, "Chatwoot did not return the contact's id.", null);
            }

            if (sourceId is null)
            {
                using var inbox = await PostAsync($"{api}/contacts/{contactId}/contact_inboxes", cw, Write(w =>
                {
                    w.WriteNumber("inbox_id", cw.InboxId);
                    w.WriteString("source_id", phone ?? work.CustomerJid);
                }), ct);
                if (!inbox.IsSuccessStatusCode && inbox.StatusCode != HttpStatusCode.UnprocessableEntity)
                    return call.From(inbox, "creating the Chatwoot contact inbox") with { ChatwootContactId = contactId };
                sourceId = phone ?? work.CustomerJid;
            }

            using var conversation = await PostAsync($"{api}/conversations", cw, Write(w =>
            {
                w.WriteString("source_id", sourceId);
                w.WriteNumber("inbox_id", cw.InboxId);
                w.WriteNumber("contact_id", contactId.Value);
                w.WriteString("status", work.Owner == Owners.Bot ? "pending" : "open");
            }), ct);
            if (!conversation.IsSuccessStatusCode)
                return call.From(conversation, "creating the Chatwoot conversation") with { ChatwootContactId = contactId };
            using (var doc = await ReadJsonAsync(conversation, ct))
                conversationId = doc.RootElement.TryGetProperty("id", out var id) && id.TryGetInt64(out var value) ? value : null;
            if (conversationId is null)
                return call.Failed((int)conversation.StatusCode, "Chatwoot did not return the conversation's id.", null) with { ChatwootContactId = contactId };
        }

        var m = work.Message;
        using var message = await PostAsync($"{api}/conversations/{conversationId}/messages", cw, Write(w =>
        {
            w.WriteString("content", m?.Text ?? $"[{m?.Kind ?? "message"}]");
            w.WriteString("message_type", m?.Direction == "inbound" ? "incoming" : "outgoing");
            w.WriteBoolean("private", false);
            w.WriteString("content_type", "text");
            // Marks the webhook echo of this message as ours (Evolution's own bridge uses the same prefix).
            w.WriteString("source_id", ChatwootWebhook.EchoPrefix + (m?.ExternalId ?? work.WebhookId));
        }), ct);
        return call.From(message, null) with { ChatwootConversationId = conversationId, ChatwootContactId = contactId };
    }

    private async Task<long?> SearchContactAsync(string api, ChatwootSettings cw, string jid, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{api}/contacts/search?q={Uri.EscapeDataString(PhoneOf(jid) ?? jid)}");
        request.Headers.TryAddWithoutValidation("api_access_token", cw.ApiToken);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
            return null;
        using var doc = await ReadJsonAsync(response, ct);
        if (doc.RootElement.TryGetProperty("payload", out var payload) && payload.ValueKind == JsonValueKind.Array)
        {
            foreach (var c in payload.EnumerateArray())
            {
                if (c.TryGetProperty("id", out var id) && id.TryGetInt64(out var value))
                    return value;
            }
        }

        return null;
    }

    private async Task<AttemptOutcome> SendEvolutionAsync(Call call, EvolutionSettings evolution, string instance, CancellationToken ct)
    {
        var m = call.Work.Message;
        if (m?.Text is not { Length: > 0 } text)
            return call.Delivered(null) with { Error = "Nothing to send: the message has no text." };
        var number = call.Work.CustomerJid.EndsWith("@s.whatsapp.net", StringComparison.Ordinal) ? PhoneOf(call.Work.CustomerJid)! : call.Work.CustomerJid;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{evolution.BaseUrl!.TrimEnd('/')}/message/sendText/{Uri.EscapeDataString(instance)}")
        {
            Content = Json(Write(w =>
            {
                w.WriteString("number", number);
                w.WriteString("text", text);
            })),
        };
        request.Headers.TryAddWithoutValidation("apikey", evolution.ApiKey);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
            return call.From(response, null);
        string? keyId = null;
        try
        {
            using var doc = await ReadJsonAsync(response, ct);
            if (doc.RootElement.TryGetProperty("key", out var key) && key.TryGetProperty("id", out var id))
                keyId = id.GetString();
        }
        catch (JsonException)
        {
            // Sent all the same; only the echo cannot be matched by id (it is matched by text instead).
        }

        return call.Delivered((int)response.StatusCode) with { ExternalId = keyId };
    }

    /// <summary>The event n8n and other HTTP receivers get: the relay's view of the message and the Evolution webhook as received (minus credentials).</summary>
    private static byte[] EventBody(DeliveryWork work) => Write(w =>
    {
        var m = work.Message;
        w.WriteString("type", m is { Direction: "inbound" } ? "message.received" : "message.sent");
        w.WriteString("id", work.WebhookId);
        w.WriteStartObject("conversation");
        w.WriteString("id", work.ConversationId);
        w.WriteString("instance", work.Instance);
        w.WriteString("owner", work.Owner);
        w.WriteBoolean("group", work.IsGroup);
        w.WriteStartObject("customer");
        w.WriteString("jid", work.CustomerJid);
        if (PhoneOf(work.CustomerJid) is { } phone)
            w.WriteString("phone", phone);
        if (work.CustomerName is { } name)
            w.WriteString("name", name);
        w.WriteEndObject();
        w.WriteEndObject();
        if (m is not null)
        {
            w.WriteStartObject("message");
            w.WriteNumber("seq", m.Id);
            if (m.ExternalId is { } external)
                w.WriteString("id", external);
            w.WriteString("direction", m.Direction);
            w.WriteString("kind", m.Kind);
            if (m.Text is { } text)
                w.WriteString("text", text);
            if (m.Author is { } author)
                w.WriteString("author", author);
            w.WriteString("sentAt", m.SentAt);
            w.WriteEndObject();
            if (m.Payload is { } payload)
            {
                w.WritePropertyName("evolution");
                w.WriteRawValue(payload, skipInputValidation: true);
            }
        }
    });

    /// <summary><c>v1,</c> + base64 HMAC-SHA256 over <c>{id}.{timestamp}.{body}</c> with the secret's bytes (the part after <c>whsec_</c>, base64).</summary>
    public static string StandardWebhookSignature(string secret, string id, string timestamp, ReadOnlySpan<byte> body)
    {
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret[6..] : secret);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(Encoding.UTF8.GetBytes(id + "." + timestamp + "."));
        hmac.AppendData(body);
        return "v1," + Convert.ToBase64String(hmac.GetHashAndReset());
    }

    private async Task<HttpResponseMessage> PostAsync(string url, ChatwootSettings cw, byte[] body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = Json(body) };
        request.Headers.TryAddWithoutValidation("api_access_token", cw.ApiToken);
        return await http.SendAsync(request, ct);
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, CancellationToken ct) =>
        await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);

    /// <summary>The digits of a phone JID (<c>5511977776666@s.whatsapp.net</c> → <c>5511977776666</c>); null for groups and LIDs.</summary>
    public static string? PhoneOf(string jid)
    {
        var at = jid.IndexOf('@', StringComparison.Ordinal);
        var user = at < 0 ? jid : jid[..at];
        var colon = user.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
            user = user[..colon];
        return (at < 0 || jid.EndsWith("@s.whatsapp.net", StringComparison.Ordinal)) && user.Length is >= 5 and <= 20 && user.All(char.IsAsciiDigit) ? user : null;
    }

    /// <summary>A JSON body with <c>application/json; charset=utf-8</c>.</summary>
    internal static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = JsonType;
        return content;
    }

    /// <summary>A JSON object written by <paramref name="write"/>, as UTF-8.</summary>
    internal static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Turns an answer into an outcome, with the retry time from the schedule and <c>Retry-After</c>.</summary>
    private readonly struct Call(RelaySender sender, DeliveryWork work, long started, Func<int, TimeSpan?>? schedule)
    {
        public DeliveryWork Work => work;

        private double Elapsed => Stopwatch.GetElapsedTime(started).TotalMilliseconds;

        public AttemptOutcome Delivered(int? status) => new(AttemptResult.Delivered, status, Elapsed, null);

        public AttemptOutcome From(HttpResponseMessage response, string? step)
        {
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
                return Delivered(status);
            if (response.StatusCode == HttpStatusCode.Gone)
                return new AttemptOutcome(AttemptResult.Dead, status, Elapsed, $"410 Gone{(step is null ? "" : " " + step)}: the target is disabled until its route is saved again.");
            TimeSpan? retryAfter = response.Headers.RetryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - sender.Time.GetUtcNow(),
                _ => null,
            };
            return Failed(status, $"HTTP {status} {response.ReasonPhrase}{(step is null ? "" : " " + step)}", retryAfter);
        }

        public AttemptOutcome Failed(int? status, string error, TimeSpan? retryAfter)
        {
            var delays = sender.Options.Delays;
            var index = work.ScheduleAttempt - 1;
            var next = schedule is not null ? schedule(work.ScheduleAttempt) : index < delays.Length ? delays[index] : null;
            if (next is not { } planned)
                return new AttemptOutcome(AttemptResult.Dead, status, Elapsed, error + $" — gave up after {work.ScheduleAttempt} attempts.");
            // ±20 % jitter spreads the retries of a target that failed for many deliveries at once.
            var delay = planned * (0.8 + (0.4 * Random.Shared.NextDouble()));
            if (retryAfter is { } after && after > delay)
                delay = after < sender.Options.MaxRetryAfter ? after : sender.Options.MaxRetryAfter;
            return new AttemptOutcome(AttemptResult.Retry, status, Elapsed, error, sender.Time.GetUtcNow() + delay);
        }
    }
}
