using System.Net;
using System.Text.Json;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Relay;

/// <summary><c>/api/relay/routes</c> over real HTTP: admin only, validation as problems, secrets shown once and kept
/// across updates, instance names unique across tenants, tenancy.</summary>
public sealed class RelayRoutesApiTests : IAsyncLifetime
{
    private RelayKit _kit = null!;

    public async Task InitializeAsync() => _kit = await RelayKit.StartAsync();

    public async Task DisposeAsync() => await _kit.DisposeAsync();

    [Fact]
    public async Task CreateReadUpdateDelete_KeepsSecretsHidden_AndTheWebhookUrlsReady()
    {
        var instance = RelayKit.NewInstance();
        var saved = await _kit.CreateRouteAsync(_kit.Route(instance));
        Assert.StartsWith("whsec_", saved.GetProperty("n8nSigningSecret").GetString(), StringComparison.Ordinal);
        var route = saved.GetProperty("route");
        Assert.Equal($"{_kit.Host.BaseAddress.ToString().TrimEnd('/')}/api/relay/evolution/{instance}", route.GetProperty("evolutionWebhookUrl").GetString());
        Assert.Equal($"{_kit.Host.BaseAddress.ToString().TrimEnd('/')}/api/relay/chatwoot/{instance}", route.GetProperty("chatwootWebhookUrl").GetString());
        Assert.Equal("n8n", route.GetProperty("bot").GetString());

        var (status, read, response) = await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/routes/{instance}", null, _kit.Admin);
        Assert.Equal(HttpStatusCode.OK, status);
        foreach (var secret in new[] { RelayKit.JwtKey, RelayKit.ChatwootSecret, "chatwoot-agent-bot-token", "evolution-instance-token", "n8n-header-secret", saved.GetProperty("n8nSigningSecret").GetString()! })
            Assert.DoesNotContain(secret, read.GetRawText(), StringComparison.Ordinal);

        // An update that resends no secrets keeps them: the webhook still authenticates with the same JWT key.
        var update = new
        {
            auth = new { mode = "jwt" },
            evolution = new { baseUrl = _kit.Stack.BaseUrl + "/evolution", timeoutSeconds = 10 },
            n8n = new { url = _kit.Stack.BaseUrl + "/n8n/webhook/other", headerName = "X-N8N-Auth" },
        };
        var (updateStatus, updated, _) = await _kit.Host.Client.SendAsync(HttpMethod.Put, $"/api/relay/routes/{instance}", update, _kit.Admin);
        Assert.True(updateStatus == HttpStatusCode.OK, updated.GetRawText());
        Assert.Equal(saved.GetProperty("n8nSigningSecret").GetString(), updated.GetProperty("n8nSigningSecret").GetString());
        Assert.Null(updated.GetProperty("route").GetProperty("chatwootWebhookUrl").GetString());
        Assert.Equal("stored", (await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance))).Body.GetProperty("status").GetString());
        await RelayKit.WaitUntilAsync(() => _kit.Stack.Of("n8n").Count == 1, TimeSpan.FromSeconds(20), "the delivery");
        Assert.Equal("/n8n/webhook/other", _kit.Stack.Of("n8n")[0].Path);
        Assert.Equal("n8n-header-secret", _kit.Stack.Of("n8n")[0].Header("X-N8N-Auth"));

        Assert.Equal(HttpStatusCode.NoContent, (await _kit.Host.Client.SendAsync(HttpMethod.Delete, $"/api/relay/routes/{instance}", null, _kit.Admin)).Status);
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "unknown-instance",
            await _kit.PostEvolutionAsync(instance, RelayKit.Payload("evolution-text.json", instance, keyId: "after-delete")));
        // The name is free again, for any tenant.
        await _kit.CreateRouteAsync(_kit.Route(instance));
    }

    [Fact]
    public async Task InvalidRoutes_AreProblems_InstanceNamesAreUniqueAcrossTenants_AndOnlyAdminsManageRoutes()
    {
        var instance = RelayKit.NewInstance();
        foreach (var (bad, why) in new (object Route, string Why)[]
        {
            (new { instance = "has space", evolution = new { baseUrl = "http://evo", apiKey = "0123456789" }, auth = new { mode = "jwt", jwtKey = RelayKit.JwtKey } }, "instance"),
            (new { instance, evolution = new { baseUrl = "http://evo", apiKey = "0123456789" }, auth = new { mode = "jwt", jwtKey = "short" } }, "jwtKey"),
            (new { instance, evolution = new { baseUrl = "http://evo", apiKey = "0123456789" }, auth = new { mode = "basic" } }, "auth.mode"),
            (new { instance, auth = new { mode = "path" } }, "evolution.baseUrl"),
            (new { instance, evolution = new { baseUrl = "ftp://evo", apiKey = "0123456789" }, auth = new { mode = "path" } }, "evolution.baseUrl"),
            (new { instance, evolution = new { baseUrl = "http://evo", apiKey = "0123456789" }, auth = new { mode = "path" }, n8n = new { url = "not a url" } }, "n8n.url"),
            (new { instance, evolution = new { baseUrl = "http://evo", apiKey = "0123456789" }, auth = new { mode = "path" }, chatwoot = new { baseUrl = "http://cw", accountId = 1 } }, "chatwoot"),
            (new { instance, evolution = new { baseUrl = "http://evo", apiKey = "0123456789", timeoutSeconds = 600 }, auth = new { mode = "path" } }, "timeoutSeconds"),
            (new { instance, evolution = new { baseUrl = "http://evo", apiKey = "0123456789" }, auth = new { mode = "path" }, bot = "botpress" }, "bot"),
        })
        {
            var answer = await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/routes", bad, _kit.Admin);
            GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", answer);
            Assert.Contains(why, answer.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var (status, _, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/routes", "{", _kit.Admin);
        Assert.Equal(HttpStatusCode.BadRequest, status);

        await _kit.CreateRouteAsync(_kit.Route(instance));
        GatewayClient.AssertProblem(HttpStatusCode.Conflict, "instance-taken", await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/routes", _kit.Route(instance), _kit.Admin));
        var (other, _, _, _) = await _kit.Host.Client.SignupAsync();
        var otherAdmin = GatewayClient.Bearer(other);
        GatewayClient.AssertProblem(HttpStatusCode.Conflict, "instance-taken", await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/relay/routes", _kit.Route(instance), otherAdmin));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _kit.Host.Client.SendAsync(HttpMethod.Get, $"/api/relay/routes/{instance}", null, otherAdmin));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _kit.Host.Client.SendAsync(HttpMethod.Delete, $"/api/relay/routes/{instance}", null, otherAdmin));
        var (_, otherList, _) = await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/routes", null, otherAdmin);
        Assert.Empty(otherList.GetProperty("routes").EnumerateArray());

        // API keys never manage routes, whatever their scopes; anonymous callers are challenged.
        var (_, key, _) = await _kit.Host.Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "n8n", scopes = new[] { "relay:write", "relay:read" } }, _kit.Admin);
        Assert.Equal(HttpStatusCode.Forbidden, (await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/routes", null, "ApiKey " + key.GetProperty("key").GetString())).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/routes")).Status);
        Assert.Equal(JsonValueKind.Array, (await _kit.Host.Client.SendAsync(HttpMethod.Get, "/api/relay/conversations", null, "ApiKey " + key.GetProperty("key").GetString()))
            .Body.GetProperty("conversations").ValueKind);
    }
}
