using Sentinel.Core.Identity;

namespace Sentinel.Functions.Gateway;

/// <summary>
/// What an endpoint needs, declared on every API endpoint: anonymous, or a minimum role for users and a scope for API
/// keys (an endpoint without a scope is closed to keys). The gateway refuses an API endpoint that declares nothing.
/// </summary>
internal sealed record AccessPolicy(bool Anonymous, Role MinimumRole, string? Scope)
{
    /// <summary>Any authenticated API key, whatever its scopes (e.g. <c>/api/auth/me</c>).</summary>
    public const string AnyScope = "*";

    public static readonly AccessPolicy Public = new(true, Role.Viewer, null);

    public string Describe() => Anonymous ? "anonymous" : $"role ≥ {MinimumRole.ToName()}" + Scope switch
    {
        null => " (users only)",
        AnyScope => ", or any API key",
        _ => $", or an API key with scope {Scope}",
    };
}

/// <summary>Names the rate-limit policy (route class) an endpoint is charged to, instead of the default.</summary>
internal sealed record RateLimitClass(string Policy);

/// <summary>The endpoint checks its own credentials (a webhook signed by its sender): the gateway neither reads its
/// Authorization header (Evolution's jwt_key sends a Bearer token that is not ours) nor asks for a principal.</summary>
internal sealed record OwnCredentials;

/// <summary>What the gateway learnt about the request, for endpoints and the request log.</summary>
internal sealed class GatewayFeature
{
    public Principal? Principal { get; set; }

    public System.Net.IPAddress? ClientIp { get; set; }

    public bool RateLimited { get; set; }

    /// <summary>The account a failed sign-in named (lower-cased, bounded), logged for the brute-force heuristic.</summary>
    public string? FailedAccount { get; set; }
}

internal static class AccessExtensions
{
    public static TBuilder Anonymous<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(AccessPolicy.Public);

    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, Role role, string? scope = null)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new AccessPolicy(false, role, scope));

    /// <summary>A webhook door: anonymous to the gateway, its own credentials, charged per IP to the <c>webhook</c> policy.</summary>
    public static TBuilder WebhookIngress<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(AccessPolicy.Public, new OwnCredentials(), new RateLimitClass(GatewayDefaults.WebhookPolicy));

    public static TBuilder RateLimitedAs<TBuilder>(this TBuilder builder, string policy)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new RateLimitClass(policy));

    /// <summary>The authenticated caller; endpoints that declare a role can rely on it.</summary>
    public static Principal Principal(this HttpContext http) =>
        http.Features.Get<GatewayFeature>()?.Principal ?? throw new InvalidOperationException("No principal: the endpoint must declare a role.");

    /// <summary>The client's address as the gateway resolved it (<c>unknown</c> when none).</summary>
    public static string ClientIp(this HttpContext http) => http.Features.Get<GatewayFeature>()?.ClientIp?.ToString() ?? "unknown";
}
