using Sentinel.Core.Identity;

namespace Sentinel.Functions.Gateway;

/// <summary><c>/api/auth</c>: signup, token (login), refresh, logout, me, invitation acceptance.</summary>
internal static class AuthEndpoints
{
    public static IEndpointRouteBuilder MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/auth").WithTags("auth");

        auth.MapPost("/signup", async (SignupRequest body, IdentityService identity, TimeProvider time, HttpContext http) =>
        {
            var outcome = await identity.SignupAsync(body.TenantName, body.Email, body.Password, body.DisplayName, http.ClientIp(), http.RequestAborted);
            return outcome.Succeeded ? GatewayResults.Tokens(outcome.Value!, time, StatusCodes.Status201Created) : GatewayResults.Problem(outcome.Failure!);
        }).Anonymous().RateLimitedAs(GatewayDefaults.AuthPolicy)
          .WithSummary("Create a tenant and its owner; returns tokens.").Produces<TokenResponse>(StatusCodes.Status201Created);

        auth.MapPost("/token", async (TokenRequest body, IdentityService identity, TimeProvider time, HttpContext http) =>
        {
            var outcome = await identity.LoginAsync(body.Email, body.Password, http.ClientIp(), http.RequestAborted);
            // A wrong password (or an attempt on a locked-out pair) names its account in the request log, for the brute-force heuristic.
            if (outcome.Failure is { Kind: FailureKind.Unauthorized } or { Slug: "login-locked" } && body.Email is { Length: > 0 and <= 254 } email
                && http.Features.Get<GatewayFeature>() is { } feature)
                feature.FailedAccount = email.Trim().ToLowerInvariant();
            return outcome.Succeeded ? GatewayResults.Tokens(outcome.Value!, time) : GatewayResults.Problem(outcome.Failure!);
        }).Anonymous().RateLimitedAs(GatewayDefaults.AuthPolicy)
          .WithSummary("Email and password for an access token (10 min) and a refresh token.").Produces<TokenResponse>();

        auth.MapPost("/refresh", async (RefreshRequest body, IdentityService identity, TimeProvider time, HttpContext http) =>
        {
            var outcome = await identity.RefreshAsync(body.RefreshToken, http.RequestAborted);
            return outcome.Succeeded ? GatewayResults.Tokens(outcome.Value!, time) : GatewayResults.Problem(outcome.Failure!);
        }).Anonymous().RateLimitedAs(GatewayDefaults.AuthPolicy)
          .WithSummary("Rotate a refresh token; reusing an old one revokes the whole session.").Produces<TokenResponse>();

        auth.MapPost("/invitations/accept", async (AcceptInvitationRequest body, IdentityService identity, TimeProvider time, HttpContext http) =>
        {
            var outcome = await identity.AcceptInvitationAsync(body.Invitation, body.Password, http.RequestAborted);
            return outcome.Succeeded ? GatewayResults.Tokens(outcome.Value!, time) : GatewayResults.Problem(outcome.Failure!);
        }).Anonymous().RateLimitedAs(GatewayDefaults.AuthPolicy)
          .WithSummary("Set a password with an invitation; returns tokens.").Produces<TokenResponse>();

        auth.MapPost("/logout", async (IdentityService identity, HttpContext http) =>
        {
            await identity.LogoutAsync(http.Principal(), http.RequestAborted);
            return TypedResults.NoContent();
        }).RequireRole(Role.Viewer)
          .WithSummary("Revoke this access token and its session.");

        auth.MapGet("/session", (HttpContext http) =>
        {
            var p = http.Principal();
            return TypedResults.Json(new SessionResponse(p.TenantId, p.SubjectId, p.IsApiKey ? "apiKey" : "user", p.Role.ToName(), p.Scopes, p.SessionId, p.ExpiresAt),
                GatewayJsonContext.Default.SessionResponse);
        }).RequireRole(Role.Viewer, AccessPolicy.AnyScope)
          .WithSummary("The credentials as the gateway sees them, without touching storage (cheap: for polling).").Produces<SessionResponse>();

        auth.MapGet("/me", async (IdentityDirectory directory, HttpContext http) =>
        {
            var p = http.Principal();
            var user = p.IsApiKey ? null : await directory.GetUserAsync(p.TenantId, p.SubjectId, http.RequestAborted);
            var tenant = await directory.GetTenantAsync(p.TenantId, http.RequestAborted);
            return TypedResults.Json(new MeResponse(p.TenantId, p.SubjectId, p.IsApiKey ? "apiKey" : "user", p.Role.ToName(), p.Scopes,
                user is null ? null : UserView.From(user), tenant?.Name), GatewayJsonContext.Default.MeResponse);
        }).RequireRole(Role.Viewer, AccessPolicy.AnyScope)
          .WithSummary("Who the credentials belong to.").Produces<MeResponse>();

        return app;
    }
}
