using System.Net;
using Microsoft.Extensions.Options;
using Sentinel.Functions.Hosting;
using static Sentinel.Functions.Tests.Gateway.GatewayClient;

namespace Sentinel.Functions.Tests.Gateway;

public sealed class GatewayStartupTests
{
    [Fact]
    public async Task NoSigningKey_StopsTheHostAtStart_NamingTheSetting()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => SentinelTestHost.StartAsync(HostMode.Functions,
            settings: new Dictionary<string, string> { ["Identity:SigningKeyDirectory"] = "", ["FUNCTIONS_CUSTOMHANDLER_PORT"] = "1" }, database: false));

        Assert.Contains("Identity:SigningKeys", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadRateLimitPolicy_StopsTheHostAtStart()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => SentinelTestHost.StartAsync(HostMode.Standalone,
            settings: new Dictionary<string, string> { ["RateLimiting:Policies:api:RefillPerSecond"] = "0" }, database: false));

        Assert.Contains("rate-limit policy", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task BootstrapAdmin_IsCreatedOnce_AndCanLogIn()
    {
        var email = Email();
        var settings = new Dictionary<string, string>
        {
            ["Identity:BootstrapAdmin:Email"] = email,
            ["Identity:BootstrapAdmin:Password"] = Password,
            ["Identity:Signup"] = "closed",
        };
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: settings);

        // The owner is created just after start, off the start-up path: wait for it in the directory (not by logging
        // in, which would count failures towards a lockout).
        var directory = (Sentinel.Core.Identity.IdentityDirectory)host.Services.GetService(typeof(Sentinel.Core.Identity.IdentityDirectory))!;
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (await directory.FindLoginAsync(email, CancellationToken.None) is null && waited.Elapsed < TimeSpan.FromSeconds(15))
            await Task.Delay(50);
        var login = await host.Client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email, password = Password });

        var signup = await host.Client.SendAsync(HttpMethod.Post, "/api/auth/signup", new { tenantName = "x", email = Email(), password = Password });
        var identity = (Sentinel.Core.Identity.IdentityService)host.Services.GetService(typeof(Sentinel.Core.Identity.IdentityService))!;
        var again = await identity.EnsureBootstrapOwnerAsync("Default", email, Password, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, login.Status);
        Assert.Equal("owner", login.Body.GetProperty("user").GetProperty("role").GetString());
        AssertProblem(HttpStatusCode.Forbidden, "signup-closed", signup);
        Assert.False(again);
    }
}
