using System.Text.Json;
using System.Text.Json.Serialization;
using Sentinel.Core.Relay;

namespace Sentinel.Functions.Relay;

/// <summary>How the instance's webhooks authenticate: <c>jwt</c> (with <c>jwtKey</c>), <c>header</c> (<c>headerName</c>, <c>headerValue</c>) or <c>path</c>.</summary>
internal sealed record RouteAuthRequest(string? Mode, string? JwtKey, string? HeaderName, string? HeaderValue);

/// <summary>A route as an admin writes it. Secrets left out of an update keep their stored values.</summary>
internal sealed record RouteRequest(
    string? Instance, RouteAuthRequest? Auth, string? Bot, EvolutionSettings? Evolution, N8nSettings? N8n, ChatwootSettings? Chatwoot, BotpressSettings? Botpress)
{
    public RelayRoute ToRoute(string? instance = null)
    {
        foreach (var t in new TargetSettings?[] { Evolution, N8n, Chatwoot, Botpress })
        {
            // Saving a route re-enables a target a 410 disabled.
            if (t is not null)
                (t.DisabledAt, t.DisabledReason) = (null, null);
        }

        return new RelayRoute
        {
            Instance = instance ?? Instance?.Trim() ?? "",
            Auth = Auth?.Mode ?? IngressAuth.Jwt,
            JwtKey = Auth?.JwtKey,
            HeaderName = Auth?.HeaderName?.Trim().ToLowerInvariant(),
            HeaderValue = Auth?.HeaderValue,
            Bot = Bot,
            Evolution = Evolution,
            N8n = N8n,
            Chatwoot = Chatwoot,
            Botpress = Botpress,
        };
    }
}

/// <summary>A target as shown back: where it points and its state, never its credentials.</summary>
internal sealed record TargetView(
    string Target, string? Url, int TimeoutSeconds, bool Ordered, DateTimeOffset? DisabledAt, string? DisabledReason,
    string? HeaderName = null, long? AccountId = null, long? InboxId = null, string? BotId = null);

/// <summary>A route as shown back. <c>evolutionWebhookUrl</c> goes in the instance's webhook (or WEBHOOK_GLOBAL_URL for path auth,
/// where the secret segment is shown only when the route is created); <c>chatwootWebhookUrl</c> in the API inbox's callback URL.</summary>
internal sealed record RouteView(
    string Instance, string Auth, string? HeaderName, string? Bot, string EvolutionWebhookUrl, string? ChatwootWebhookUrl,
    IReadOnlyList<TargetView> Targets, DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset UpdatedAt)
{
    public static RouteView From(RelayRoute r, string baseUrl, bool showSecrets = false)
    {
        var targets = new List<TargetView>();
        if (r.Evolution is { } e)
            targets.Add(new TargetView(RelayTargets.Evolution, e.BaseUrl, e.TimeoutSeconds, e.Ordered, e.DisabledAt, e.DisabledReason));
        if (r.N8n is { } n)
            targets.Add(new TargetView(RelayTargets.N8n, n.Url, n.TimeoutSeconds, n.Ordered, n.DisabledAt, n.DisabledReason, HeaderName: n.HeaderName));
        if (r.Chatwoot is { } c)
            targets.Add(new TargetView(RelayTargets.Chatwoot, c.BaseUrl, c.TimeoutSeconds, c.Ordered, c.DisabledAt, c.DisabledReason, AccountId: c.AccountId, InboxId: c.InboxId));
        if (r.Botpress is { } b)
            targets.Add(new TargetView(RelayTargets.Botpress, b.BaseUrl, b.TimeoutSeconds, b.Ordered, b.DisabledAt, b.DisabledReason, BotId: b.BotId));
        var evolutionUrl = $"{baseUrl}/api/relay/evolution/{r.Instance}" + (r.Auth == IngressAuth.Path ? "/" + (showSecrets ? r.PathSecret : "{secret}") : "");
        return new RouteView(r.Instance, r.Auth, r.Auth == IngressAuth.Header ? r.HeaderName : null, r.BotTarget, evolutionUrl,
            r.Chatwoot is null ? null : $"{baseUrl}/api/relay/chatwoot/{r.Instance}", targets, r.CreatedAt, r.CreatedBy, r.UpdatedAt);
    }
}

/// <summary>A saved route and the secrets the relay generated for it (shown in this answer only): the path segment for
/// <c>path</c> auth and the Standard Webhooks secret n8n verifies <c>webhook-signature</c> with.</summary>
internal sealed record RouteSaved(RouteView Route, string? PathSecret, string? N8nSigningSecret);

internal sealed record RouteList(IReadOnlyList<RouteView> Routes);

/// <summary>What a webhook came to: <c>stored</c>, <c>duplicate</c> or <c>ignored</c>, and why.</summary>
internal sealed record IngressAnswer(string Status, string Decision, string? Conversation, long? Message, int Deliveries);

internal sealed record HandoverRequest(string? To, string? Reason);

internal sealed record HandoverAnswer(string Conversation, string Owner, bool Changed);

internal sealed record SendRequest(string? Text);

internal sealed record SendAnswer(string Conversation, long Message);

internal sealed record ReplayRequest(string? Target, string? Instance);

internal sealed record ReplayAnswer(int Replayed);

internal sealed record ConversationList(IReadOnlyList<ConversationSummary> Conversations);

internal sealed record DeliveryList(IReadOnlyList<DeliveryView> Deliveries, long? Next);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(RouteRequest))]
[JsonSerializable(typeof(RouteView))]
[JsonSerializable(typeof(RouteSaved))]
[JsonSerializable(typeof(RouteList))]
[JsonSerializable(typeof(IngressAnswer))]
[JsonSerializable(typeof(HandoverRequest))]
[JsonSerializable(typeof(HandoverAnswer))]
[JsonSerializable(typeof(SendRequest))]
[JsonSerializable(typeof(SendAnswer))]
[JsonSerializable(typeof(ReplayRequest))]
[JsonSerializable(typeof(ReplayAnswer))]
[JsonSerializable(typeof(ConversationList))]
[JsonSerializable(typeof(ConversationDetail))]
[JsonSerializable(typeof(DeliveryList))]
[JsonSerializable(typeof(DeliveryView))]
[JsonSerializable(typeof(RelayStats))]
internal sealed partial class RelayJsonContext : JsonSerializerContext;
