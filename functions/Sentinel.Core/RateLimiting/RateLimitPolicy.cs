using System.Globalization;

namespace Sentinel.Core.RateLimiting;

/// <summary>
/// One token-bucket policy: a bucket holds at most <see cref="Capacity"/> tokens (the burst), refills at
/// <see cref="RefillPerSecond"/>, and each request takes <see cref="Cost"/>. Configured under
/// <c>RateLimiting:Policies:{name}</c>.
/// </summary>
internal sealed class RateLimitPolicy
{
    /// <summary>The policy's name: letters, digits, <c>-</c> and <c>_</c> (it appears in headers and keys).</summary>
    public string Name { get; internal set; } = "";

    /// <summary>Bucket size: the largest burst.</summary>
    public double Capacity { get; set; }

    /// <summary>Tokens added per second.</summary>
    public double RefillPerSecond { get; set; }

    /// <summary>Tokens a request takes unless the caller says otherwise. Default 1.</summary>
    public double Cost { get; set; } = 1;

    /// <summary>Seconds an empty bucket takes to fill: the IETF header's <c>w</c>.</summary>
    public int WindowSeconds => (int)Math.Max(1, Math.Ceiling(Capacity / RefillPerSecond));

    /// <summary>The <c>RateLimit-Policy</c> item (draft-ietf-httpapi-ratelimit-headers-11): <c>"name";q=capacity;w=window</c>.</summary>
    public string HeaderItem => _headerItem ??= string.Create(CultureInfo.InvariantCulture, $"\"{Name}\";q={(long)Math.Floor(Capacity)};w={WindowSeconds}");

    // Policies are fixed once configuration is bound; the header text is built on first use.
    private string? _headerItem;

    /// <summary>Why the policy is unusable, or null.</summary>
    public string? Validate()
    {
        if (Name.Length is 0 or > 40 || !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            return $"Rate-limit policy name '{Name}' must be 1–40 letters, digits, '-' or '_'.";
        if (!(Capacity >= 1) || !double.IsFinite(Capacity))
            return $"Rate-limit policy '{Name}': Capacity must be at least 1.";
        if (!(RefillPerSecond > 0) || !double.IsFinite(RefillPerSecond))
            return $"Rate-limit policy '{Name}': RefillPerSecond must be positive.";
        if (!(Cost > 0) || Cost > Capacity)
            return $"Rate-limit policy '{Name}': Cost must be positive and at most Capacity.";
        return null;
    }
}

/// <summary>
/// A limiter's answer. <see cref="Remaining"/> is whole tokens left; <see cref="RetryAfter"/> is how long until the
/// request would be allowed (zero when allowed); <see cref="ResetAfter"/> is how long until the bucket is full again.
/// </summary>
internal readonly record struct RateLimitDecision(bool Allowed, double Remaining, TimeSpan RetryAfter, TimeSpan ResetAfter, RateLimitPolicy Policy)
{
    /// <summary>The <c>RateLimit</c> item: <c>"name";r=remaining;t=seconds-until-full</c>.</summary>
    public string HeaderItem => string.Create(CultureInfo.InvariantCulture,
        $"\"{Policy.Name}\";r={(long)Math.Floor(Math.Max(0, Remaining))};t={(long)Math.Ceiling(ResetAfter.TotalSeconds)}");

    /// <summary><c>Retry-After</c> in whole seconds, at least 1.</summary>
    public int RetryAfterSeconds => (int)Math.Max(1, Math.Ceiling(RetryAfter.TotalSeconds));
}

/// <summary>
/// The token-bucket arithmetic, shared by the in-process fallback and mirrored line by line in the Lua script: refill
/// for the time elapsed (never past capacity; a clock going backwards refills nothing), then take the cost if it is
/// there. Times are microseconds.
/// </summary>
internal static class TokenBucket
{
    public readonly record struct State(double Tokens, long UpdatedMicros);

    public static (State Next, bool Allowed, double Remaining, long RetryMicros, long ResetMicros) Take(State? current, long nowMicros, double capacity, double refillPerSecond, double cost)
    {
        var tokens = current?.Tokens ?? capacity;
        var updated = current?.UpdatedMicros ?? nowMicros;
        if (nowMicros > updated)
        {
            tokens = Math.Min(capacity, tokens + ((nowMicros - updated) * refillPerSecond / 1e6));
            updated = nowMicros;
        }

        var allowed = cost <= tokens;
        long retry = 0;
        if (allowed)
            tokens -= cost;
        else
            retry = (long)Math.Ceiling((cost - tokens) * 1e6 / refillPerSecond);
        var reset = (long)Math.Ceiling((capacity - tokens) * 1e6 / refillPerSecond);
        return (new State(tokens, updated), allowed, tokens, retry, reset);
    }
}
