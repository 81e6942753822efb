using Sentinel.Core.Identity;

namespace Sentinel.Functions.Gateway;

/// <summary><c>/api/users</c> and <c>/api/keys</c>: the tenant's users and API keys, managed by admins.</summary>
internal static class DirectoryEndpoints
{
    public static IEndpointRouteBuilder MapDirectoryEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/users").WithTags("users");

        users.MapGet("/", async (IdentityService identity, HttpContext http) =>
        {
            var list = await identity.ListUsersAsync(http.Principal(), http.RequestAborted);
            return TypedResults.Json(new UserList(list.Select(UserView.From).ToList()), GatewayJsonContext.Default.UserList);
        }).RequireRole(Role.Admin).WithSummary("The tenant's users.").Produces<UserList>();

        users.MapPost("/", async (CreateUserRequest body, IdentityService identity, HttpContext http) =>
        {
            var outcome = await identity.CreateUserAsync(http.Principal(), body.Email, body.Role, body.DisplayName, body.Password, http.RequestAborted);
            if (!outcome.Succeeded)
                return GatewayResults.Problem(outcome.Failure!);
            var created = outcome.Value!;
            return new GatewayResults.NoStore(TypedResults.Json(new CreatedUserResponse(UserView.From(created.User), created.Invitation, created.InvitationExpiresAt),
                GatewayJsonContext.Default.CreatedUserResponse, statusCode: StatusCodes.Status201Created));
        }).RequireRole(Role.Admin)
          .WithSummary("Create a user with a password, or without one to get an invitation (shown once).").Produces<CreatedUserResponse>(StatusCodes.Status201Created);

        users.MapGet("/{id}", async (string id, IdentityService identity, HttpContext http) =>
        {
            var outcome = await identity.GetUserAsync(http.Principal(), id, http.RequestAborted);
            return outcome.Succeeded ? TypedResults.Json(UserView.From(outcome.Value!), GatewayJsonContext.Default.UserView) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin).WithSummary("One user.").Produces<UserView>();

        users.MapPatch("/{id}", async (string id, UpdateUserRequest body, IdentityService identity, HttpContext http) =>
        {
            var outcome = await identity.UpdateUserAsync(http.Principal(), id, body.Role, body.Disabled, body.DisplayName, http.RequestAborted);
            return outcome.Succeeded ? TypedResults.Json(UserView.From(outcome.Value!), GatewayJsonContext.Default.UserView) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin)
          .WithSummary("Change a user's role, name or disabled state; their tokens are cut off at once.").Produces<UserView>();

        var keys = app.MapGroup("/api/keys").WithTags("keys");

        keys.MapGet("/", async (IdentityService identity, HttpContext http) =>
        {
            var list = await identity.ListApiKeysAsync(http.Principal(), http.RequestAborted);
            return TypedResults.Json(new ApiKeyList(list.Select(ApiKeyView.From).ToList()), GatewayJsonContext.Default.ApiKeyList);
        }).RequireRole(Role.Admin).WithSummary("The tenant's API keys (prefixes only).").Produces<ApiKeyList>();

        keys.MapPost("/", async (CreateApiKeyRequest body, IdentityService identity, HttpContext http) =>
        {
            var outcome = await identity.CreateApiKeyAsync(http.Principal(), body.Name, body.Scopes, body.ExpiresInDays, http.RequestAborted);
            if (!outcome.Succeeded)
                return GatewayResults.Problem(outcome.Failure!);
            return new GatewayResults.NoStore(TypedResults.Json(new CreatedApiKeyResponse(ApiKeyView.From(outcome.Value!.Record), outcome.Value.Key),
                GatewayJsonContext.Default.CreatedApiKeyResponse, statusCode: StatusCodes.Status201Created));
        }).RequireRole(Role.Admin)
          .WithSummary("Create an API key; the key is in this answer only.").Produces<CreatedApiKeyResponse>(StatusCodes.Status201Created);

        keys.MapDelete("/{id}", async (string id, IdentityService identity, HttpContext http) =>
        {
            var outcome = await identity.RevokeApiKeyAsync(http.Principal(), id, http.RequestAborted);
            return outcome.Succeeded ? TypedResults.Json(ApiKeyView.From(outcome.Value!), GatewayJsonContext.Default.ApiKeyView) : GatewayResults.Problem(outcome.Failure!);
        }).RequireRole(Role.Admin).WithSummary("Revoke an API key (idempotent).").Produces<ApiKeyView>();

        return app;
    }
}
