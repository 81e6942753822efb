using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sentinel.Core.Relay;

/// <summary>How an Evolution instance proves its webhooks are its own (research §1.6, strongest first).</summary>
internal static class IngressAuth
{
    /// <summary>Evolution 2.3+ per-instance <c>headers.jwt_key</c>: it sends <c>Authorization: Bearer</c> an HS256 JWT signed with that key.</summary>
    public const string Jwt = "jwt";

    /// <summary>A static per-instance header (name and value) sent verbatim on every call.</summary>
    public const string Header = "header";

    /// <summary>A secret path segment: the only choice for Evolution's global webhook, which sends no headers.</summary>
    public const string Path = "path";

    public static bool IsKnown(string? mode) => mode is Jwt or Header or Path;
}

/// <summary>The relay's targets.</summary>
internal static class RelayTargets
{
    public const string N8n = "n8n";
    public const string Botpress = "botpress";
    public const string Chatwoot = "chatwoot";
    public const string Evolution = "evolution";
}

/// <summary>Who answers a conversation.</summary>
internal static class Owners
{
    public const string Bot = "bot";
    public const string Human = "human";

    public static bool IsKnown(string? owner) => owner is Bot or Human;
}

/// <summary>What every target has: a timeout, whether its deliveries keep conversation order, and whether it was disabled (410 Gone).</summary>
internal abstract class TargetSettings
{
    public int TimeoutSeconds { get; set; } = 15;

    public bool Ordered { get; set; } = true;

    /// <summary>Set when the target answered 410 Gone; nothing is sent to it until the route is saved again.</summary>
    public DateTimeOffset? DisabledAt { get; set; }

    public string? DisabledReason { get; set; }
}

/// <summary>Evolution API, for sending replies: <c>POST {BaseUrl}/message/sendText/{instance}</c> with header <c>apikey</c>.</summary>
internal sealed class EvolutionSettings : TargetSettings
{
    public string? BaseUrl { get; set; }

    public string? ApiKey { get; set; }
}

/// <summary>An n8n Webhook node (or any HTTP receiver) with optional header auth; signed with Standard Webhooks headers.</summary>
internal sealed class N8nSettings : TargetSettings
{
    public string? Url { get; set; }

    public string? HeaderName { get; set; }

    public string? HeaderValue { get; set; }

    /// <summary>The Standard Webhooks secret (<c>whsec_</c> + base64) receivers verify <c>webhook-signature</c> with; generated when absent.</summary>
    public string? SigningSecret { get; set; }
}

/// <summary>A Chatwoot API-channel inbox: the mirror every message goes to, and the humans' side of a hand-over.</summary>
internal sealed class ChatwootSettings : TargetSettings
{
    public string? BaseUrl { get; set; }

    public long AccountId { get; set; }

    public long InboxId { get; set; }

    /// <summary>An agent bot's or user's <c>api_access_token</c>.</summary>
    public string? ApiToken { get; set; }

    /// <summary>The inbox's webhook secret: <c>X-Chatwoot-Signature</c> is verified with it (Chatwoot 4.13+).</summary>
    public string? WebhookSecret { get; set; }
}

/// <summary>Botpress v12 Converse API: <c>POST {BaseUrl}/api/v1/bots/{BotId}/converse/{userId}</c>.</summary>
internal sealed class BotpressSettings : TargetSettings
{
    public string? BaseUrl { get; set; }

    public string? BotId { get; set; }

    /// <summary>Optional Botpress JWT for the secured route.</summary>
    public string? Token { get; set; }
}

/// <summary>One route: an Evolution instance of a tenant, how its webhooks authenticate, and where its messages go.</summary>
internal sealed class RelayRoute
{
    public string TenantId { get; set; } = "";

    /// <summary>The Evolution instance name (what the <c>instance</c> field of its webhooks carries); unique across the deployment.</summary>
    public string Instance { get; set; } = "";

    public string Auth { get; set; } = IngressAuth.Jwt;

    public string? JwtKey { get; set; }

    public string? HeaderName { get; set; }

    public string? HeaderValue { get; set; }

    /// <summary>For <see cref="IngressAuth.Path"/>: the generated secret path segment.</summary>
    public string? PathSecret { get; set; }

    /// <summary>Which bot owns a conversation while it is the bot's: <c>n8n</c> or <c>botpress</c> (null: the one configured).</summary>
    public string? Bot { get; set; }

    public EvolutionSettings? Evolution { get; set; }

    public N8nSettings? N8n { get; set; }

    public ChatwootSettings? Chatwoot { get; set; }

    public BotpressSettings? Botpress { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public string CreatedBy { get; set; } = "";

    public DateTimeOffset UpdatedAt { get; set; }

    [JsonIgnore]
    public string? ETag { get; set; }

    /// <summary>The bot target in use: the configured one, else n8n, else Botpress; null when there is none.</summary>
    [JsonIgnore]
    public string? BotTarget => Bot switch
    {
        RelayTargets.N8n when N8n is not null => RelayTargets.N8n,
        RelayTargets.Botpress when Botpress is not null => RelayTargets.Botpress,
        _ => N8n is not null ? RelayTargets.N8n : Botpress is not null ? RelayTargets.Botpress : null,
    };

    public TargetSettings? Target(string target) => target switch
    {
        RelayTargets.N8n => N8n,
        RelayTargets.Botpress => Botpress,
        RelayTargets.Chatwoot => Chatwoot,
        RelayTargets.Evolution => Evolution,
        _ => null,
    };

    /// <summary>Configured and not disabled.</summary>
    public bool IsActive(string target) => Target(target) is { DisabledAt: null };
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RelayRoute))]
internal sealed partial class RelayRouteJsonContext : JsonSerializerContext;
