using System.Net;
using System.Text.Json;
using Sentinel.Functions.Hosting;
using Sentinel.TestSupport;

namespace Sentinel.Functions.Tests.Health;

public sealed class HealthEndpointsTests
{
    [Fact]
    public async Task Health_AllUp_Is200WithLatencies()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Functions);

        using var response = await host.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("healthy", body.RootElement.GetProperty("status").GetString());
        var deps = body.RootElement.GetProperty("dependencies").EnumerateArray().ToDictionary(d => d.GetProperty("name").GetString()!);
        Assert.Equal(["postgres", "redis", "tables"], deps.Keys.Order());
        Assert.All(deps.Values, d =>
        {
            Assert.Equal("up", d.GetProperty("status").GetString());
            Assert.True(d.GetProperty("latencyMs").GetDouble() >= 0);
        });
    }

    [Fact]
    public async Task Health_RedisDown_Is503NamingIt()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Functions,
            settings: new Dictionary<string, string> { ["ConnectionStrings:Redis"] = TestServers.ClosedPort() });

        using var response = await host.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(["redis"], body.RootElement.GetProperty("down").EnumerateArray().Select(d => d.GetString()));
        var redis = body.RootElement.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("name").GetString() == "redis");
        Assert.False(string.IsNullOrEmpty(redis.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task Health_PostgresAndTablesDown_Is503NamingBoth()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Functions, database: false, settings: new Dictionary<string, string>
        {
            ["ConnectionStrings:Tables"] = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=AAAA;TableEndpoint=http://{TestServers.ClosedPort()}/devstoreaccount1;",
        });

        using var response = await host.Client.GetAsync(new Uri("/api/health", UriKind.Relative));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(["postgres", "tables"], body.RootElement.GetProperty("down").EnumerateArray().Select(d => d.GetString()!).Order());
        Assert.DoesNotContain("Password=x", body.RootElement.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_ReportsModeAndVersion()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, database: false);

        using var body = JsonDocument.Parse(await host.Client.GetStringAsync(new Uri("/api/version", UriKind.Relative)));

        Assert.Equal("standalone", body.RootElement.GetProperty("mode").GetString());
        Assert.Matches(@"^\d+\.\d+\.\d+", body.RootElement.GetProperty("version").GetString());
    }

    [Theory]
    [InlineData("GET", "/api/does-not-exist", HttpStatusCode.NotFound, "not-found")]
    [InlineData("POST", "/api/health", HttpStatusCode.MethodNotAllowed, "method-not-allowed")]
    public async Task Api_ClientErrors_AreProblemJson(string method, string path, HttpStatusCode status, string slug)
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Functions, database: false);

        using var response = await host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("urn:problem:sentinel:" + slug, problem.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Start_MissingConnectionString_FailsNamingIt()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => SentinelTestHost.StartAsync(HostMode.Functions, database: false,
            settings: new Dictionary<string, string> { ["ConnectionStrings:Redis"] = "" }));

        Assert.Contains("ConnectionStrings:Redis", ex.Message, StringComparison.Ordinal);
    }
}
