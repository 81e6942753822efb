using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Functions.Gateway;
using static Sentinel.Functions.Tests.Gateway.GatewayClient;

namespace Sentinel.Functions.Tests.Gateway;

/// <summary>The gateway's endpoints over real HTTP against the standalone host, with real Azurite, Redis and PostgreSQL.</summary>
public sealed class GatewayEndpointsTests(GatewayHostFixture fixture) : IClassFixture<GatewayHostFixture>
{
    private HttpClient Client => fixture.Host.Client;

    [Fact]
    public async Task Signup_Me_Token_Refresh_Logout()
    {
        var email = Email();
        var signup = await Client.SignupAsync(email);

        var me = await Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: Bearer(signup.AccessToken));
        var token = await Client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email, password = Password });
        var access = token.Body.GetProperty("access_token").GetString()!;
        var refresh = await Client.SendAsync(HttpMethod.Post, "/api/auth/refresh", new { refreshToken = token.Body.GetProperty("refresh_token").GetString() });
        var logout = await Client.SendAsync(HttpMethod.Post, "/api/auth/logout", authorization: Bearer(access));
        var afterLogout = await Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: Bearer(access));

        Assert.Equal(HttpStatusCode.OK, me.Status);
        Assert.Equal("owner", me.Body.GetProperty("role").GetString());
        Assert.Equal("Acme", me.Body.GetProperty("tenantName").GetString());
        Assert.Equal(HttpStatusCode.OK, token.Status);
        Assert.Equal("Bearer", token.Body.GetProperty("token_type").GetString());
        Assert.Equal(600, token.Body.GetProperty("expires_in").GetInt32());
        Assert.Equal("no-store", token.Response.Headers.CacheControl?.ToString());
        Assert.Equal(HttpStatusCode.OK, refresh.Status);
        Assert.Equal(HttpStatusCode.NoContent, logout.Status);
        AssertProblem(HttpStatusCode.Unauthorized, "invalid-token", afterLogout);
        Assert.Contains("invalid_token", afterLogout.Response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefreshReuse_OverHttp_RevokesTheFamily()
    {
        var signup = await Client.SignupAsync();
        var rotated = await Client.SendAsync(HttpMethod.Post, "/api/auth/refresh", new { refreshToken = signup.RefreshToken });

        var reuse = await Client.SendAsync(HttpMethod.Post, "/api/auth/refresh", new { refreshToken = signup.RefreshToken });
        var newest = await Client.SendAsync(HttpMethod.Post, "/api/auth/refresh", new { refreshToken = rotated.Body.GetProperty("refresh_token").GetString() });
        var access = await Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: Bearer(rotated.Body.GetProperty("access_token").GetString()!));

        AssertProblem(HttpStatusCode.Unauthorized, "refresh-token-reused", reuse);
        AssertProblem(HttpStatusCode.Unauthorized, "invalid-grant", newest);
        AssertProblem(HttpStatusCode.Unauthorized, "invalid-token", access);
    }

    [Fact]
    public async Task Roles_AreEnforcedPerEndpoint()
    {
        var owner = await Client.SignupAsync();
        var viewerEmail = Email();
        var created = await Client.SendAsync(HttpMethod.Post, "/api/users", new { email = viewerEmail, role = "viewer", password = Password }, Bearer(owner.AccessToken));
        var viewer = await Client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email = viewerEmail, password = Password });
        var viewerToken = Bearer(viewer.Body.GetProperty("access_token").GetString()!);

        var viewerListsUsers = await Client.SendAsync(HttpMethod.Get, "/api/users", authorization: viewerToken);
        var viewerReadsStats = await Client.SendAsync(HttpMethod.Get, "/api/stats/gateway", authorization: viewerToken);
        var ownerListsUsers = await Client.SendAsync(HttpMethod.Get, "/api/users", authorization: Bearer(owner.AccessToken));
        var anonymous = await Client.SendAsync(HttpMethod.Get, "/api/users");

        Assert.Equal(HttpStatusCode.Created, created.Status);
        AssertProblem(HttpStatusCode.Forbidden, "forbidden", viewerListsUsers);
        Assert.Equal(HttpStatusCode.OK, viewerReadsStats.Status);
        Assert.Equal(2, ownerListsUsers.Body.GetProperty("users").GetArrayLength());
        AssertProblem(HttpStatusCode.Unauthorized, "unauthorized", anonymous);
        Assert.Contains("Bearer", anonymous.Response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UserAdministration_InviteAcceptDisable()
    {
        var owner = Bearer((await Client.SignupAsync()).AccessToken);
        var email = Email();
        var invited = await Client.SendAsync(HttpMethod.Post, "/api/users", new { email, role = "operator", displayName = "Op" }, owner);
        var id = invited.Body.GetProperty("user").GetProperty("id").GetString();
        var accept = await Client.SendAsync(HttpMethod.Post, "/api/auth/invitations/accept", new { invitation = invited.Body.GetProperty("invitation").GetString(), password = Password });
        var promote = await Client.SendAsync(HttpMethod.Patch, $"/api/users/{id}", new { role = "admin" }, owner);
        var disable = await Client.SendAsync(HttpMethod.Patch, $"/api/users/{id}", new { disabled = true }, owner);
        var theirToken = await Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: Bearer(accept.Body.GetProperty("access_token").GetString()!));
        var login = await Client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email, password = Password });
        var missing = await Client.SendAsync(HttpMethod.Get, "/api/users/aaaaaaaaaaaaaaaa", authorization: owner);

        Assert.True(invited.Body.GetProperty("user").GetProperty("invitationPending").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, accept.Status);
        Assert.Equal("admin", promote.Body.GetProperty("role").GetString());
        Assert.True(disable.Body.GetProperty("disabled").GetBoolean());
        AssertProblem(HttpStatusCode.Unauthorized, "invalid-token", theirToken);
        AssertProblem(HttpStatusCode.Forbidden, "account-disabled", login);
        AssertProblem(HttpStatusCode.NotFound, "not-found", missing);
    }

    [Fact]
    public async Task ApiKeys_CreateShownOnce_ListWithoutSecret_UseWithScope_Revoke()
    {
        var owner = Bearer((await Client.SignupAsync()).AccessToken);
        var created = await Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "n8n", scopes = new[] { "ratelimit:check" } }, owner);
        var key = created.Body.GetProperty("key").GetString()!;
        var keyId = created.Body.GetProperty("apiKey").GetProperty("id").GetString();

        var list = await Client.SendAsync(HttpMethod.Get, "/api/keys", authorization: owner);
        var check = await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default", key = "+5511999990000", cost = 1 }, "ApiKey " + key);
        var noScope = await Client.SendAsync(HttpMethod.Get, "/api/stats/gateway", authorization: "ApiKey " + key);
        var noUsers = await Client.SendAsync(HttpMethod.Get, "/api/users", authorization: "ApiKey " + key);
        var revoke = await Client.SendAsync(HttpMethod.Delete, $"/api/keys/{keyId}", authorization: owner);
        var afterRevoke = await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default", key = "x" }, "ApiKey " + key);

        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.StartsWith("snt_", key, StringComparison.Ordinal);
        Assert.DoesNotContain(key, list.Body.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(key[..(key.LastIndexOf('_'))], list.Body.GetProperty("apiKeys")[0].GetProperty("prefix").GetString());
        Assert.Equal(HttpStatusCode.OK, check.Status);
        Assert.True(check.Body.GetProperty("allowed").GetBoolean());
        Assert.Equal(59, check.Body.GetProperty("remaining").GetInt64());
        AssertProblem(HttpStatusCode.Forbidden, "forbidden", noScope);
        AssertProblem(HttpStatusCode.Forbidden, "forbidden", noUsers);
        Assert.Equal(HttpStatusCode.OK, revoke.Status);
        AssertProblem(HttpStatusCode.Unauthorized, "invalid-credentials", afterRevoke);
    }

    [Fact]
    public async Task RateLimitCheck_DeniesWhenSpent_AndValidates()
    {
        var owner = Bearer((await Client.SignupAsync()).AccessToken);
        var number = "+55" + Guid.NewGuid().ToString("N")[..10];

        var spend = await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default", key = number, cost = 60 }, owner);
        var denied = await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default", key = number, cost = 1 }, owner);
        var unknownPolicy = await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "nope", key = number }, owner);
        var tooCostly = await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default", key = number, cost = 61 }, owner);
        var noKey = await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default" }, owner);

        Assert.True(spend.Body.GetProperty("allowed").GetBoolean());
        Assert.False(denied.Body.GetProperty("allowed").GetBoolean());
        Assert.InRange(denied.Body.GetProperty("retryAfterSeconds").GetDouble(), 0.5, 1.0);
        AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", unknownPolicy);
        AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", tooCostly);
        AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", noKey);
    }

    [Fact]
    public async Task Discovery_PublishesTheKeysThatValidateOurTokens()
    {
        var signup = await Client.SignupAsync();

        var jwks = await Client.SendAsync(HttpMethod.Get, "/.well-known/jwks.json");
        var jwksUnderApi = await Client.SendAsync(HttpMethod.Get, "/api/.well-known/jwks.json");
        var config = await Client.SendAsync(HttpMethod.Get, "/.well-known/openid-configuration");

        var key = jwks.Body.GetProperty("keys")[0];
        Assert.Equal(("EC", "P-256", "ES256", "sig"), (key.GetProperty("kty").GetString(), key.GetProperty("crv").GetString(), key.GetProperty("alg").GetString(), key.GetProperty("use").GetString()));
        Assert.False(key.TryGetProperty("d", out _)); // never the private part
        Assert.Equal(jwks.Body.GetRawText(), jwksUnderApi.Body.GetRawText());
        Assert.EndsWith("/api/.well-known/jwks.json", config.Body.GetProperty("jwks_uri").GetString(), StringComparison.Ordinal);

        // Validate our token with nothing but the published JWK, as another service in the stack would.
        var jwk = new Microsoft.IdentityModel.Tokens.JsonWebKey(key.GetRawText());
        var result = await new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(signup.AccessToken, new Microsoft.IdentityModel.Tokens.TokenValidationParameters
        {
            ValidIssuer = config.Body.GetProperty("issuer").GetString(),
            ValidAudience = "sentinel-api",
            IssuerSigningKey = jwk,
        });
        Assert.True(result.IsValid, result.Exception?.Message);
    }

    [Fact]
    public async Task EveryAnswer_CarriesTheRateLimitHeaders()
    {
        var owner = Bearer((await Client.SignupAsync()).AccessToken);
        foreach (var (path, auth) in new[] { ("/api/health", (string?)null), ("/api/version", null), ("/api/auth/me", owner), ("/api/nope", null), ("/api/users", null) })
        {
            var answer = await Client.SendAsync(HttpMethod.Get, path, authorization: auth);
            var policy = answer.Response.Headers.GetValues("RateLimit-Policy").Single();
            var limit = answer.Response.Headers.GetValues("RateLimit").Single();
            Assert.Matches("^\"[a-z]+\";q=\\d+;w=\\d+$", policy);
            Assert.Matches("^\"[a-z]+\";r=\\d+;t=\\d+$", limit);
            Assert.False(answer.Response.Headers.Contains("RateLimit-Remaining"));
        }
    }

    [Fact]
    public async Task OpenApi_DescribesEveryApiEndpoint_AndEveryEndpointDeclaresItsAccess()
    {
        var doc = await Client.SendAsync(HttpMethod.Get, "/api/openapi.json");
        var endpoints = fixture.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.TrimStart('/').StartsWith("api/", StringComparison.Ordinal) && e.RoutePattern.RawText != "/api/openapi.json")
            .ToList();

        Assert.Equal(HttpStatusCode.OK, doc.Status);
        Assert.StartsWith("3.", doc.Body.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = doc.Body.GetProperty("paths");
        Assert.NotEmpty(endpoints);
        foreach (var e in endpoints)
        {
            Assert.NotNull(e.Metadata.GetMetadata<AccessPolicy>());
            var path = "/" + e.RoutePattern.RawText!.TrimStart('/').TrimEnd('/');
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is missing from openapi.json");
            foreach (var method in e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods)
                Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out _), $"{method} {path} is missing");
        }

        var check = paths.GetProperty("/api/ratelimit/check").GetProperty("post");
        Assert.True(check.GetProperty("responses").TryGetProperty("429", out _));
        Assert.True(check.GetProperty("responses").TryGetProperty("401", out _));
        Assert.Contains("ratelimit:check", check.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(doc.Body.GetProperty("components").GetProperty("securitySchemes").TryGetProperty("bearer", out _));
    }

    [Fact]
    public async Task Stats_ReflectTheTenantsOwnTraffic()
    {
        var owner = await Client.SignupAsync();
        for (var i = 0; i < 5; i++)
            await Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: Bearer(owner.AccessToken));
        await Client.SendAsync(HttpMethod.Get, "/api/users/aaaaaaaaaaaaaaaa", authorization: Bearer(owner.AccessToken));

        JsonElement body = default;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(15))
        {
            body = (await Client.SendAsync(HttpMethod.Get, "/api/stats/gateway?window=15m&step=1m", authorization: Bearer(owner.AccessToken))).Body;
            if (body.GetProperty("totals").GetProperty("requests").GetInt64() >= 6)
                break;
            await Task.Delay(200);
        }

        var routes = body.GetProperty("topRoutes").EnumerateArray().ToDictionary(r => r.GetProperty("route").GetString()!, r => r.GetProperty("requests").GetInt64());
        Assert.Equal(5, routes["/api/auth/me"]);
        Assert.Equal(1, routes["/api/users/{id}"]);
        Assert.True(body.GetProperty("totals").GetProperty("status4xx").GetInt64() >= 1);
        Assert.InRange(body.GetProperty("series").GetArrayLength(), 15, 16); // the window, widened to whole steps
        AssertProblem(HttpStatusCode.BadRequest, "bad-request", await Client.SendAsync(HttpMethod.Get, "/api/stats/gateway?window=forever", authorization: Bearer(owner.AccessToken)));
        AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await Client.SendAsync(HttpMethod.Get, "/api/stats/gateway?window=30d", authorization: Bearer(owner.AccessToken)));
    }
}
