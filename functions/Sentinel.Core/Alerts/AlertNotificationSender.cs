using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Sentinel.Core.Relay;

namespace Sentinel.Core.Alerts;

/// <summary>One alert as a notification carries it.</summary>
internal sealed record NotificationAlert(
    string Key, string RuleId, string RuleName, string Severity, string Status, IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, string> Annotations,
    double? Value, DateTimeOffset StartsAt, DateTimeOffset? EndsAt)
{
    /// <summary>Alertmanager's per-alert fingerprint: 16 hex digits, stable for the alert.</summary>
    public string Fingerprint => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Key)).AsSpan(0, 8));
}

/// <summary>
/// The body every notification is stored with: Alertmanager's webhook JSON (version 4: groupKey, status, receiver,
/// groupLabels, commonLabels, commonAnnotations, alerts[] with status, labels, annotations, startsAt, endsAt,
/// fingerprint), so a receiver written for Alertmanager works unchanged. Slack and Chatwoot get text made from it.
/// </summary>
internal static class AlertNotificationBody
{
    /// <summary>Alertmanager's <c>max_alerts</c>: a notification lists at most this many alerts and counts the rest in <c>truncatedAlerts</c>.</summary>
    public const int MaxAlerts = 100;

    public static string Build(string receiver, string groupKey, IReadOnlyDictionary<string, string> groupLabels, IReadOnlyList<NotificationAlert> alerts)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        var status = alerts.Any(a => a.Status == AlertStates.Firing) ? AlertStates.Firing : AlertStates.Resolved;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("version", "4");
            w.WriteString("groupKey", groupKey);
            w.WriteNumber("truncatedAlerts", Math.Max(0, alerts.Count - MaxAlerts));
            w.WriteString("status", status);
            w.WriteString("receiver", receiver);
            WriteMap(w, "groupLabels", groupLabels);
            WriteMap(w, "commonLabels", Common(alerts.Select(a => a.Labels)));
            WriteMap(w, "commonAnnotations", Common(alerts.Select(a => a.Annotations)));
            w.WriteString("externalURL", "");
            w.WriteStartArray("alerts");
            foreach (var a in alerts.Take(MaxAlerts))
            {
                w.WriteStartObject();
                w.WriteString("status", a.Status);
                WriteMap(w, "labels", a.Labels);
                WriteMap(w, "annotations", a.Annotations);
                w.WriteString("startsAt", a.StartsAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                w.WriteString("endsAt", a.EndsAt is { } end ? end.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture) : "0001-01-01T00:00:00Z");
                w.WriteString("generatorURL", "");
                w.WriteString("fingerprint", a.Fingerprint);
                if (a.Value is { } v && double.IsFinite(v))
                    w.WriteNumber("value", v);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>A short text for people: Alertmanager's default title (<c>[FIRING:2] High CPU</c>) and a line per alert.</summary>
    public static (string Title, string Lines, string Status, string Severity) Text(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        var status = root.GetProperty("status").GetString() ?? "firing";
        var alerts = root.GetProperty("alerts").EnumerateArray().ToList();
        var firing = alerts.Count(a => a.GetProperty("status").GetString() == AlertStates.Firing);
        var groupValues = root.GetProperty("groupLabels").EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Value.GetString()).ToList();
        var title = $"[{status.ToUpperInvariant()}{(status == AlertStates.Firing ? ":" + firing.ToString(CultureInfo.InvariantCulture) : "")}] {string.Join(' ', groupValues)}".TrimEnd();
        var lines = new StringBuilder();
        var severity = "info";
        foreach (var a in alerts)
        {
            var labels = a.GetProperty("labels");
            var annotations = a.GetProperty("annotations");
            var name = labels.TryGetProperty("alertname", out var n) ? n.GetString() : "alert";
            var text = annotations.TryGetProperty("summary", out var s) ? s.GetString()
                : annotations.TryGetProperty("description", out var d) ? d.GetString() : null;
            var where = labels.TryGetProperty("agent_name", out var an) ? an.GetString() : labels.TryGetProperty("host", out var h) ? h.GetString() : null;
            if (labels.TryGetProperty("severity", out var sev) && Rank(sev.GetString()) > Rank(severity) && a.GetProperty("status").GetString() == AlertStates.Firing)
                severity = sev.GetString()!;
            lines.Append("• ").Append(a.GetProperty("status").GetString() == AlertStates.Firing ? "" : "resolved: ").Append(name);
            if (where is { Length: > 0 })
                lines.Append(" on ").Append(where);
            if (text is { Length: > 0 })
                lines.Append(" — ").Append(text);
            lines.Append('\n');
        }

        var truncated = root.GetProperty("truncatedAlerts").GetInt32();
        if (truncated > 0)
            lines.Append("… and ").Append(truncated).Append(" more\n");
        return (title, lines.ToString().TrimEnd('\n'), status, severity);
    }

    private static int Rank(string? severity) => severity switch
    {
        "critical" => 3,
        "warning" => 2,
        _ => 1,
    };

    private static Dictionary<string, string> Common(IEnumerable<IReadOnlyDictionary<string, string>> maps)
    {
        Dictionary<string, string>? common = null;
        foreach (var m in maps)
        {
            if (common is null)
            {
                common = new Dictionary<string, string>(m, StringComparer.Ordinal);
                continue;
            }

            foreach (var key in common.Keys.ToList())
            {
                if (!m.TryGetValue(key, out var v) || v != common[key])
                    common.Remove(key);
            }
        }

        return common ?? [];
    }

    private static void WriteMap(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, string> map)
    {
        w.WriteStartObject(name);
        foreach (var (k, v) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            w.WriteString(k, v);
        w.WriteEndObject();
    }
}

/// <summary>
/// Sends one notification delivery the relay's dispatcher claimed: to its receiver, as that receiver's kind wants it
/// (n8n and webhook: the stored body with Standard Webhooks headers; Slack: text and a coloured attachment; Chatwoot: a
/// private note). Answers are judged by <see cref="RelaySender"/> on the notification schedule: 5 s doubling to 5 min,
/// for about a day (300 attempts), then a dead letter (replayable).
/// </summary>
internal sealed class AlertNotificationSender(AlertReceivers receivers, RelayRouteStore routes, RelaySender sender, TimeProvider time)
{
    public const int MaxAttempts = 300;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>The delay after failed attempt <paramref name="attempt"/> (1-based): 5 s, 10 s, 20 s … 5 min; null after <see cref="MaxAttempts"/>.</summary>
    public static TimeSpan? Schedule(int attempt) =>
        attempt >= MaxAttempts ? null : TimeSpan.FromSeconds(Math.Min(300, 5 * Math.Pow(2, Math.Min(attempt - 1, 10))));

    public async Task<AttemptOutcome> SendAsync(DeliveryWork work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        var id = work.Target.StartsWith(ReceiverTargets.Prefix, StringComparison.Ordinal) ? work.Target[ReceiverTargets.Prefix.Length..] : "";
        var receiver = await receivers.GetAsync(work.TenantId, id, cancellationToken);
        if (receiver is null)
            return new AttemptOutcome(AttemptResult.Dead, null, 0, "The receiver was deleted.");
        if (!receiver.Enabled)
            return new AttemptOutcome(AttemptResult.Dead, null, 0, $"The receiver is disabled{(receiver.DisabledReason is { } why ? ": " + why : "")}; save it to enable it, then replay.");
        if (work.Body is not { } body)
            return new AttemptOutcome(AttemptResult.Dead, null, 0, "The notification has no body.");
        HttpRequestMessage request;
        switch (receiver.Kind)
        {
            case ReceiverKinds.Slack:
                request = Post(receiver.Url!, SlackBody(body));
                break;
            case ReceiverKinds.Chatwoot:
                var route = await routes.FindAsync(receiver.ChatwootInstance!, cancellationToken);
                if (route?.TenantId != work.TenantId || route.Chatwoot is not { BaseUrl: { } baseUrl, ApiToken: { } token } cw)
                    return sender.Fail(work, $"Relay route '{receiver.ChatwootInstance}' has no Chatwoot account to post with.", Schedule);
                var (title, lines, _, _) = AlertNotificationBody.Text(body);
                var url = $"{baseUrl.TrimEnd('/')}/api/v1/accounts/{cw.AccountId.ToString(CultureInfo.InvariantCulture)}/conversations/" +
                          $"{receiver.ChatwootConversationId!.Value.ToString(CultureInfo.InvariantCulture)}/messages";
                request = Post(url, RelaySender.Write(w =>
                {
                    w.WriteString("content", title + "\n" + lines);
                    w.WriteString("message_type", "outgoing");
                    // A private note: the team sees it; Chatwoot never sends it to the customer, and the relay's Chatwoot ingress ignores it.
                    w.WriteBoolean("private", true);
                }));
                request.Headers.TryAddWithoutValidation("api_access_token", token);
                break;
            default:
                var bytes = Encoding.UTF8.GetBytes(body);
                request = Post(receiver.Url!, bytes);
                var timestamp = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                request.Headers.TryAddWithoutValidation("webhook-id", work.WebhookId);
                request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
                request.Headers.TryAddWithoutValidation("webhook-signature", RelaySender.StandardWebhookSignature(receiver.SigningSecret!, work.WebhookId, timestamp, bytes));
                break;
        }

        using (request)
            return await sender.SendPreparedAsync(work, request, Timeout, Schedule, cancellationToken);
    }

    /// <summary>Disables the receiver of a notification that was answered 410 Gone.</summary>
    public Task DisableAsync(DeliveryWork work, string reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        return receivers.DisableAsync(work.TenantId, work.Target[ReceiverTargets.Prefix.Length..], reason, cancellationToken);
    }

    /// <summary>Slack's incoming-webhook message: <c>text</c> (the title) and one attachment coloured by status and severity.</summary>
    public static byte[] SlackBody(string body)
    {
        var (title, lines, status, severity) = AlertNotificationBody.Text(body);
        return RelaySender.Write(w =>
        {
            w.WriteString("text", title);
            w.WriteStartArray("attachments");
            w.WriteStartObject();
            w.WriteString("color", status == AlertStates.Resolved ? "good" : severity == "critical" ? "danger" : "warning");
            w.WriteString("title", title);
            w.WriteString("text", lines);
            w.WriteString("fallback", title);
            w.WriteEndObject();
            w.WriteEndArray();
        });
    }

    private static HttpRequestMessage Post(string url, byte[] body) => new(HttpMethod.Post, url) { Content = RelaySender.Json(body) };
}
