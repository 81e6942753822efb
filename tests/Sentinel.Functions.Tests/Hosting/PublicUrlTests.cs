using System.Text.Json;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Tests.Hosting;

/// <summary>
/// URLs the API hands out name the public origin: under the Functions host requests arrive from 127.0.0.1, so the
/// platform's WEBSITE_HOSTNAME (or a configured custom domain) is used instead of the request's Host.
/// </summary>
public sealed class PublicUrlTests
{
    [Theory]
    [InlineData(true, "func-abc.azurewebsites.net", null, "https://func-abc.azurewebsites.net")]
    [InlineData(true, "func-abc.azurewebsites.net", "https://sentinel.example.com/ignored/path", "https://sentinel.example.com")]
    [InlineData(true, "not a host name", null, null)]
    [InlineData(false, "func-abc.azurewebsites.net", null, null)]
    public async Task Discovery_NamesThePublicOrigin(bool underFunctionsHost, string websiteHostName, string? publicUrl, string? expected)
    {
        var settings = new Dictionary<string, string> { ["WEBSITE_HOSTNAME"] = websiteHostName };
        if (publicUrl is not null)
            settings["Hosting:PublicUrl"] = publicUrl;
        await using var host = await SentinelTestHost.StartAsync(underFunctionsHost ? HostMode.Functions : HostMode.Standalone, settings: settings);

        using var doc = JsonDocument.Parse(await host.Client.GetStringAsync(new Uri("api/.well-known/openid-configuration", UriKind.Relative)));
        // null: the request's own origin (standalone, or no usable host name).
        var origin = expected ?? host.BaseAddress.GetLeftPart(UriPartial.Authority);
        Assert.Equal(origin + "/api/.well-known/jwks.json", doc.RootElement.GetProperty("jwks_uri").GetString());
        Assert.Equal(origin + "/api/auth/token", doc.RootElement.GetProperty("token_endpoint").GetString());
    }

    [Fact]
    public async Task PublicUrl_MustBeAnHttpUrl()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => SentinelTestHost.StartAsync(HostMode.Functions,
            settings: new Dictionary<string, string> { ["Hosting:PublicUrl"] = "ftp://sentinel.example.com" }, database: false));
        Assert.Contains("Hosting:PublicUrl", error.Message, StringComparison.Ordinal);
    }
}
