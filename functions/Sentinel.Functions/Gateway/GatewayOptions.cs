using Sentinel.Core.Configuration;
using Sentinel.Core.RateLimiting;

namespace Sentinel.Functions.Gateway;

/// <summary>Configuration section <c>RateLimiting</c>.</summary>
[SettingsSection(Section)]
internal sealed class RateLimitingOptions
{
    public const string Section = "RateLimiting";

    /// <summary>Limit API requests at all. Default true (benchmarks switch it off to measure its cost).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long a decision waits for Redis before failing open to the in-process bucket. Default 500 ms.</summary>
    public TimeSpan RedisTimeout { get; set; } = Sentinel.Core.RateLimiting.RateLimiter.DefaultRedisTimeout;

    /// <summary>Route-class policies, by name. <c>api</c> (authenticated callers, per principal), <c>anonymous</c>
    /// (per IP) and <c>auth</c> (login, signup, refresh, per IP) are the defaults, and an endpoint may name another.</summary>
    public Dictionary<string, RateLimitPolicy> Policies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Policies the decision service <c>POST /api/ratelimit/check</c> offers the chatbot stack, by name.</summary>
    public Dictionary<string, RateLimitPolicy> ServicePolicies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Trust the right-most <c>X-Forwarded-For</c> entry as the client address. Default: on under the
    /// Functions host (only the host reaches the handler's loopback port), off in standalone mode.</summary>
    public bool? TrustForwardedFor { get; set; }

    public RateLimitPolicy Policy(string name) => Policies[name];
}

/// <summary>Default policies (overridable per value in configuration).</summary>
internal static class GatewayDefaults
{
    public const string ApiPolicy = "api";
    public const string AnonymousPolicy = "anonymous";
    public const string AuthPolicy = "auth";
    public const string WebhookPolicy = "webhook";

    public static IEnumerable<KeyValuePair<string, string?>> Settings()
    {
        foreach (var (section, name, capacity, refill) in new[]
        {
            ("Policies", ApiPolicy, "100", "10"),      // bursts of 100, 600 a minute per principal
            ("Policies", AnonymousPolicy, "60", "1"),  // 60 a minute per IP
            ("Policies", AuthPolicy, "10", "0.2"),     // 12 a minute per IP for login, signup, refresh
            ("Policies", WebhookPolicy, "2000", "500"), // relay webhooks per sending IP: an Evolution server's bursts, 30,000 a minute
            ("ServicePolicies", "default", "60", "1"),
        })
        {
            yield return new($"{RateLimitingOptions.Section}:{section}:{name}:Capacity", capacity);
            yield return new($"{RateLimitingOptions.Section}:{section}:{name}:RefillPerSecond", refill);
        }
    }
}
