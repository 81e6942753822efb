using System.Globalization;
using Sentinel.Core.Insights;
using Sentinel.Core.Storage;

namespace Sentinel.Core.RateLimiting;

/// <summary>
/// The rate limiter's jail for the sign-in routes: an IP the brute-force heuristic convicted is refused there (429,
/// <c>Retry-After</c>) for <see cref="BruteForce.BlockFor"/> — 10 minutes, doubling on each repeat within a week, a week
/// for a repeat offender (fail2ban's defaults and its recidive jail). Held in Redis with TTLs, so every instance
/// enforces it and it lifts by itself. With Redis unreachable nothing is blocked (the per-account login throttle and the
/// auth rate-limit policy still slow an attacker).
/// </summary>
internal sealed class AuthBlocks(RedisConnection redis, RedisKeys keys, TimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(500);

    // KEYS: block, strikes. ARGV: now ms, strike memory ms, day ms, a unique member.
    // Returns {0, 0} when the IP is already blocked, else {strikes in memory, strikes in the last day} with this one added.
    private const string StrikeScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return {0, 0} end
        local now = tonumber(ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
        redis.call('ZADD', KEYS[2], now, ARGV[4])
        redis.call('PEXPIRE', KEYS[2], ARGV[2])
        return {redis.call('ZCARD', KEYS[2]), redis.call('ZCOUNT', KEYS[2], now - tonumber(ARGV[3]), '+inf')}
        """;

    /// <summary>Blocks an IP (unless it is blocked already): returns the block and which strike it is, or null when it
    /// was blocked already or Redis is unreachable.</summary>
    public async Task<(TimeSpan Block, int Strike)?> BlockAsync(string ip, CancellationToken cancellationToken)
    {
        var (block, strikes) = keys.AuthBlock(ip);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var (reached, result, _) = await redis.TryAsync(db => db.ScriptEvaluateAsync(StrikeScript, [block, strikes],
            [now, (long)BruteForce.StrikeMemory.TotalMilliseconds, (long)TimeSpan.FromDays(1).TotalMilliseconds, now.ToString(CultureInfo.InvariantCulture) + ":" + Guid.NewGuid().ToString("N")[..8]]),
            Timeout, cancellationToken);
        if (!reached)
            return null;
        var counts = (long[])result!;
        if (counts[0] == 0)
            return null;
        var duration = BruteForce.BlockFor((int)counts[0], (int)counts[1]);
        var (set, _, _) = await redis.TryAsync(db => db.StringSetAsync(block, "1", duration), Timeout, cancellationToken);
        return set ? (duration, (int)counts[0]) : null;
    }

    /// <summary>How long the IP is still blocked from the sign-in routes, or null.</summary>
    public async Task<TimeSpan?> BlockedForAsync(string ip, CancellationToken cancellationToken)
    {
        var (block, _) = keys.AuthBlock(ip);
        var (reached, ttl, _) = await redis.TryAsync(db => db.KeyTimeToLiveAsync(block), Timeout, cancellationToken);
        return reached && ttl is { } t && t > TimeSpan.Zero ? t : null;
    }
}
