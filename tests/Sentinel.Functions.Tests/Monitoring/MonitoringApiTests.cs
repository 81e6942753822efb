using System.Net;
using System.Text.Json;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Tests.Gateway;

namespace Sentinel.Functions.Tests.Monitoring;

/// <summary>The agents and metrics API over real HTTP: roles, scopes, tenancy, problems for bad input.</summary>
public sealed class MonitoringApiTests : IAsyncLifetime
{
    private SentinelTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SentinelTestHost.StartAsync(HostMode.Standalone);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task RegisterListRotateRevoke_AsAdmin_WithInstallCommandAndKeysShownOnce()
    {
        var (token, _, _, _) = await _host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);

        var (status, created, response) = await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "web-1" }, auth);
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var id = created.GetProperty("agent").GetProperty("id").GetString()!;
        var key = created.GetProperty("key").GetString()!;
        Assert.Equal(43, key.Length);
        var install = created.GetProperty("install").GetString()!;
        Assert.Contains($"--agent {id} --key-version 1 --key {key} --hub agent-metrics --connection 'Endpoint=http://{_host.BaseAddress.Authority}/;SharedAccessKeyName=agent-send;SharedAccessKey={SentinelTestHost.EventHubKey}'", install, StringComparison.Ordinal);
        Assert.Equal("never", created.GetProperty("agent").GetProperty("status").GetString());

        var (_, list, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/agents", null, auth);
        var listed = Assert.Single(list.GetProperty("agents").EnumerateArray());
        Assert.Equal(id, listed.GetProperty("id").GetString());
        Assert.DoesNotContain(key, list.GetRawText(), StringComparison.Ordinal);

        var dup = await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "web-1" }, auth);
        GatewayClient.AssertProblem(HttpStatusCode.Conflict, "agent-name-taken", dup);

        var (rotStatus, rotated, _) = await _host.Client.SendAsync(HttpMethod.Post, $"/api/agents/{id}/rotate", null, auth);
        Assert.Equal(HttpStatusCode.OK, rotStatus);
        Assert.Equal(2, rotated.GetProperty("keyVersion").GetInt32());
        Assert.NotEqual(key, rotated.GetProperty("key").GetString());
        Assert.NotEqual(JsonValueKind.Null, rotated.GetProperty("agent").GetProperty("previousKeyValidUntil").ValueKind);

        var (revStatus, revoked, _) = await _host.Client.SendAsync(HttpMethod.Delete, $"/api/agents/{id}", null, auth);
        Assert.Equal(HttpStatusCode.OK, revStatus);
        Assert.Equal("revoked", revoked.GetProperty("status").GetString());
        GatewayClient.AssertProblem(HttpStatusCode.Conflict, "agent-revoked", await _host.Client.SendAsync(HttpMethod.Post, $"/api/agents/{id}/rotate", null, auth));
    }

    [Fact]
    public async Task OtherTenantsAgents_AreNotFound_AndViewersCannotRegister()
    {
        var (owner, _, _, _) = await _host.Client.SignupAsync();
        var (other, _, _, _) = await _host.Client.SignupAsync();
        var (_, created, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "db-1" }, GatewayClient.Bearer(owner));
        var id = created.GetProperty("agent").GetProperty("id").GetString()!;

        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _host.Client.SendAsync(HttpMethod.Get, $"/api/agents/{id}", null, GatewayClient.Bearer(other)));
        GatewayClient.AssertProblem(HttpStatusCode.NotFound, "not-found", await _host.Client.SendAsync(HttpMethod.Delete, $"/api/agents/{id}", null, GatewayClient.Bearer(other)));
        var (_, otherList, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/agents", null, GatewayClient.Bearer(other));
        Assert.Empty(otherList.GetProperty("agents").EnumerateArray());

        // An API key with metrics:read reads, and cannot register.
        var (_, apiKey, _) = await _host.Client.SendAsync(HttpMethod.Post, "/api/keys", new { name = "grafana", scopes = new[] { "metrics:read" } }, GatewayClient.Bearer(owner));
        var keyAuth = "ApiKey " + apiKey.GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await _host.Client.SendAsync(HttpMethod.Get, "/api/agents", null, keyAuth)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "x" }, keyAuth)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/series")).Status);
    }

    [Fact]
    public async Task BadInput_GetsProblemsNot500s()
    {
        var (token, _, _, _) = await _host.Client.SignupAsync();
        var auth = GatewayClient.Bearer(token);

        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = "" }, auth));
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await _host.Client.SendAsync(HttpMethod.Post, "/api/agents", new { name = new string('x', 65) }, auth));
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/query?metric=cpu.usage&from=yesterday", null, auth));
        GatewayClient.AssertProblem(HttpStatusCode.BadRequest, "bad-request", await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/query?metric=cpu.usage&step=fast", null, auth));
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/query", null, auth));
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/query?metric=cpu.usage&agg=median", null, auth));
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/query?metric=cpu.usage&match=core=~(", null, auth));
        GatewayClient.AssertProblem(HttpStatusCode.UnprocessableEntity, "validation-failed", await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/series?match=" + Uri.EscapeDataString("no operator"), null, auth));
        var (status, empty, _) = await _host.Client.SendAsync(HttpMethod.Get, "/api/metrics/query?metric=cpu.usage&match=core%3Dtotal", null, auth);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("raw", empty.GetProperty("resolution").GetString());
        Assert.Empty(empty.GetProperty("series").EnumerateArray());
    }
}
