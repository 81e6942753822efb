using Microsoft.Extensions.Options;
using Sentinel.Core.Identity;
using Sentinel.Core.RateLimiting;
using Sentinel.Core.RequestLog;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Gateway;

/// <summary>The rate-limit decision service, gateway statistics, and the token discovery documents.</summary>
internal static class GatewayEndpoints
{
    public const int MaxCheckKeyLength = 256;

    public static IEndpointRouteBuilder MapGatewayEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/ratelimit/check", async (RateLimitCheckRequest body, RateLimiter limiter, IOptions<RateLimitingOptions> options, HttpContext http) =>
        {
            if (body.Policy is null || !options.Value.ServicePolicies.TryGetValue(body.Policy, out var policy))
            {
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "validation-failed", "Unknown policy",
                    $"policy is one of: {string.Join(", ", options.Value.ServicePolicies.Keys.Order(StringComparer.Ordinal))}.");
            }

            if (string.IsNullOrEmpty(body.Key) || body.Key.Length > MaxCheckKeyLength)
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "validation-failed", "Invalid key", $"key is 1–{MaxCheckKeyLength} characters, e.g. a WhatsApp number.");
            if (body.Cost is { } c && (!(c > 0) || c > policy.Capacity))
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "validation-failed", "Invalid cost", $"cost is above 0 and at most the policy's capacity ({policy.Capacity}).");

            // Buckets of the service live apart from the gateway's own ("svc:" never starts a gateway subject) and are
            // scoped by tenant.
            var p = http.Principal();
            var decision = await limiter.AcquireAsync(policy, "svc:" + p.TenantId + ":" + body.Key, body.Cost, http.RequestAborted);
            return TypedResults.Json(new RateLimitCheckResponse(decision.Allowed, policy.Name, (long)policy.Capacity, (long)Math.Floor(Math.Max(0, decision.Remaining)),
                Math.Round(decision.ResetAfter.TotalSeconds, 3), Math.Round(decision.RetryAfter.TotalSeconds, 3)), GatewayJsonContext.Default.RateLimitCheckResponse);
        }).RequireRole(Role.Operator, Scopes.RateLimitCheck).WithTags("ratelimit")
          .WithSummary("May this key spend cost tokens of this policy now? {policy, key, cost} → allowed, remaining, reset.")
          .Produces<RateLimitCheckResponse>();

        app.MapGet("/api/stats/gateway", async (string? window, string? step, GatewayStats stats, HttpContext http) =>
        {
            if (!GatewayStats.TryParseDuration(window ?? "1h", out var w) || !GatewayStats.TryParseDuration(step ?? "1m", out var s))
                return Problems.Result(StatusCodes.Status400BadRequest, "bad-request", "Invalid window or step", "window and step look like 30s, 15m, 1h or 7d.");
            if (GatewayStats.Validate(w, s) is { } problem)
                return Problems.Result(StatusCodes.Status422UnprocessableEntity, "validation-failed", "Invalid window or step", problem);
            var report = await stats.QueryAsync(http.Principal().TenantId, w, s, http.RequestAborted);
            return TypedResults.Json(report, GatewayJsonContext.Default.GatewayStatsReport);
        }).RequireRole(Role.Viewer, Scopes.StatsRead).WithTags("stats")
          .WithSummary("Requests per bucket by status class, p50/p95/p99 latency, 429s, top routes and client IPs (window ≤ 7d, step ≥ 10s).")
          .Produces<GatewayStatsReport>();

        // The discovery documents, at the root (standalone) and under /api (the Functions host serves only its route prefix).
        foreach (var prefix in new[] { "", "/api" })
        {
            app.MapGet(prefix + "/.well-known/jwks.json", (AccessTokenService tokens, HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=300";
                return TypedResults.Json(new JsonWebKeySet(tokens.Keys.All.Select(k => k.ToJwk()).ToList()), GatewayJsonContext.Default.JsonWebKeySet);
            }).Anonymous().WithTags("discovery").WithSummary("Public keys that validate our access tokens (RFC 7517).").Produces<JsonWebKeySet>();

            app.MapGet(prefix + "/.well-known/openid-configuration", (IOptions<IdentityOptions> options, HttpContext http) =>
            {
                var issuer = options.Value.Issuer;
                var root = Uri.TryCreate(issuer, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
                    ? issuer.TrimEnd('/')
                    : PublicUrl.Of(http);
                http.Response.Headers.CacheControl = "public, max-age=300";
                return TypedResults.Json(new OpenIdConfiguration(issuer, root + "/api/.well-known/jwks.json", root + "/api/auth/token",
                    ["password", "refresh_token"], ["token"], ["public"], ["ES256"], ["none"],
                    ["iss", "aud", "sub", "exp", "nbf", "iat", "jti", "tid", "role", "sid"]), GatewayJsonContext.Default.OpenIdConfiguration);
            }).Anonymous().WithTags("discovery").WithSummary("Discovery document pointing at the JWKS.").Produces<OpenIdConfiguration>();
        }

        return app;
    }
}
