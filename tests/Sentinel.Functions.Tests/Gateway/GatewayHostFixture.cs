using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Tests.Gateway;

/// <summary>One standalone host shared by a test class (signup and logins are not free).</summary>
public sealed class GatewayHostFixture : IAsyncLifetime
{
    internal SentinelTestHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await SentinelTestHost.StartAsync(HostMode.Standalone, settings: new Dictionary<string, string>
    {
        // Generous anonymous and auth buckets: these classes test identity, not limits.
        ["RateLimiting:Policies:anonymous:Capacity"] = "10000",
        ["RateLimiting:Policies:auth:Capacity"] = "10000",
        ["RateLimiting:Policies:auth:RefillPerSecond"] = "100",
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
