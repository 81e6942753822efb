using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Sentinel.Core.Identity;
using Microsoft.Extensions.DependencyInjection;
using static Sentinel.Functions.Tests.Gateway.GatewayClient;

namespace Sentinel.Functions.Tests.Gateway;

/// <summary>
/// Hostile and malformed input at every gateway endpoint: each gets a 4xx problem+json, never a 500, and nothing
/// changes — the tenant's users and keys are the same before and after.
/// </summary>
public sealed class HostileInputTests(GatewayHostFixture fixture) : IClassFixture<GatewayHostFixture>
{
    private HttpClient Client => fixture.Host.Client;

    public static TheoryData<string, string, string, string> BadBodies() => new()
    {
        // path, content type, body, expected slug
        { "/api/auth/signup", "application/json", "{\"tenantName\":\"x\",", "bad-request" },
        { "/api/auth/signup", "application/json", "[]", "bad-request" },
        { "/api/auth/signup", "application/json", "{\"email\":5}", "bad-request" },
        { "/api/auth/signup", "application/json", "", "bad-request" },
        { "/api/auth/signup", "text/plain", "{}", "unsupported-media-type" },
        { "/api/auth/signup", "application/xml", "<a/>", "unsupported-media-type" },
        { "/api/auth/signup", "application/json", "{}", "validation-failed" },
        { "/api/auth/token", "application/json", "{\"email\":\"nope\",\"password\":\"x\"}", "validation-failed" },
        { "/api/auth/token", "application/json", "{\"email\":\"a@b\",\"password\":\"xxxxxxxxxxxx\"}", "validation-failed" },
        { "/api/auth/token", "application/json", "{\"email\":\"a b@example.com\",\"password\":\"xxxxxxxxxxxx\"}", "validation-failed" },
        { "/api/auth/token", "application/json", "{\"email\":\"'OR'1'='1--@example.com\",\"password\":\"' OR '1'='1\"}", "invalid-credentials" },
        { "/api/auth/token", "application/json", "{\"email\":\"' OR 1=1 --@example.com\",\"password\":\"x\"}", "validation-failed" },
        { "/api/auth/token", "application/json", "{\"email\":\"ünï@exämple.com\",\"password\":\"пароль пароль\"}", "invalid-credentials" },
        { "/api/auth/refresh", "application/json", "{\"refreshToken\":\"rt_'); drop table users; --\"}", "invalid-grant" },
        { "/api/auth/refresh", "application/json", "{\"refreshToken\":null}", "invalid-grant" },
        { "/api/auth/invitations/accept", "application/json", "{\"invitation\":\"inv_x\",\"password\":\"long enough pw\"}", "invalid-invitation" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadBody_IsAProblem_NotA500(string path, string contentType, string body, string slug)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var response = await Client.PostAsync(path, content);
        var problem = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:problem:sentinel:" + slug, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task OversizedBody_Is413()
    {
        using var content = new StringContent("{\"tenantName\":\"" + new string('x', 2 * 1024 * 1024) + "\"}", Encoding.UTF8, "application/json");

        var response = await Client.PostAsync("/api/auth/signup", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    public static TheoryData<string> BadAuthorizations() => new()
    {
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "Bearer " + new string('a', 20_000),
        "ApiKey snt_x",
        "ApiKey snt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbb_cccccccccccccccccccccccccccccccccccccccccccccccccccc",
        "ApiKey ' or 1=1 --",
        "Bearer %C3%BCn%C3%AFc%C3%B8d%C3%A9",
    };

    [Theory]
    [MemberData(nameof(BadAuthorizations))]
    public async Task BadCredentials_Are401Problems(string authorization)
    {
        var answer = await Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: authorization);

        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("application/problem+json", answer.Response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(authorization.Length > 20 ? authorization[7..27] : "\u0000", answer.Body.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostileAdminRequests_ChangeNothing()
    {
        var owner = await Client.SignupAsync();
        var auth = Bearer(owner.AccessToken);
        var directory = fixture.Host.Services.GetRequiredService<IdentityDirectory>();
        async Task<(int Users, int Keys)> CountAsync()
        {
            var users = 0;
            await foreach (var _ in directory.ListUsersAsync(owner.TenantId, CancellationToken.None))
                users++;
            var keys = 0;
            await foreach (var _ in directory.ListApiKeysAsync(owner.TenantId, CancellationToken.None))
                keys++;
            return (users, keys);
        }

        var before = await CountAsync();
        var answers = new List<(HttpStatusCode Status, System.Text.Json.JsonElement Body, HttpResponseMessage Response)>
        {
            await Client.SendAsync(HttpMethod.Post, "/api/users", new { email = "not-an-email", role = "viewer", password = Password }, auth),
            await Client.SendAsync(HttpMethod.Post, "/api/users", new { email = Email(), role = "god", password = Password }, auth),
            await Client.SendAsync(HttpMethod.Post, "/api/users", new { email = Email(), role = "viewer", password = "short" }, auth),
            await Client.SendAsync(HttpMethod.Post, "/api/users", new { email = Email(), role = "viewer", displayName = new string('x', 500) }, auth),
            await Client.SendAsync(HttpMethod.Post, "/api/users", new { email = Email(), role = "viewer", displayName = "bell\u0007" }, auth),
            await Client.SendAsync(HttpMethod.Patch, "/api/users/' or 1=1 --", new { role = "owner" }, auth),
            await Client.SendAsync(HttpMethod.Patch, "/api/users/..%2F..%2Fetc", new { role = "owner" }, auth),
            await Client.SendAsync(HttpMethod.Patch, $"/api/users/{owner.UserId}", new { role = "superuser" }, auth),
            await Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "k", scopes = new[] { "*" } }, auth),
            await Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "", scopes = new[] { "stats:read" } }, auth),
            await Client.SendAsync(HttpMethod.Delete, "/api/keys/not-an-id", authorization: auth),
            await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default", key = new string('k', 5000) }, auth),
            await Client.SendAsync(HttpMethod.Post, "/api/ratelimit/check", new { policy = "default", key = "k", cost = -5 }, auth),
            await Client.SendAsync(HttpMethod.Get, "/api/stats/gateway?window=1h';drop table request_log;--", authorization: auth),
        };

        Assert.All(answers, a =>
        {
            Assert.InRange((int)a.Status, 400, 499);
            Assert.Equal("application/problem+json", a.Response.Content.Headers.ContentType?.MediaType);
        });
        Assert.Equal(before, await CountAsync());
        Assert.Equal(HttpStatusCode.OK, (await Client.SendAsync(HttpMethod.Get, "/api/stats/gateway", authorization: auth)).Status);
    }

    [Fact]
    public async Task NulInPath_IsRefusedByKestrelBeforeTheApp()
    {
        // Kestrel answers a malformed request target itself (400, empty body), before any middleware runs.
        var response = await Client.DeleteAsync("/api/keys/%00");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task UnicodeAndSqlLookingNames_AreStoredVerbatim()
    {
        var email = "o'neil+" + Guid.NewGuid().ToString("N")[..6] + "@example.com";
        var (status, body, _) = await Client.SendAsync(HttpMethod.Post, "/api/auth/signup",
            new { tenantName = "Robert'); DROP TABLE tenants;-- 🚀", email, password = "pässwörd ✓ 12345", displayName = "Zoë \"Z\" 日本" });
        var login = await Client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email = email.ToUpperInvariant(), password = "pässwörd ✓ 12345" });
        var me = await Client.SendAsync(HttpMethod.Get, "/api/auth/me", authorization: Bearer(login.Body.GetProperty("access_token").GetString()!));

        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("Zoë \"Z\" 日本", body.GetProperty("user").GetProperty("displayName").GetString());
        Assert.Equal("Robert'); DROP TABLE tenants;-- 🚀", me.Body.GetProperty("tenantName").GetString());
    }
}
