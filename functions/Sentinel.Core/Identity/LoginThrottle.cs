using System.Collections.Concurrent;
using Sentinel.Core.Configuration;
using Sentinel.Core.Storage;

namespace Sentinel.Core.Identity;

/// <summary>Configuration section <c>Identity:Lockout</c>; defaults are fail2ban's jail defaults.</summary>
[SettingsSection("Identity:Lockout")]
internal sealed class LockoutOptions
{
    /// <summary>Failures within <see cref="Window"/> that lock the (IP, email) pair (at least 2). Default 5.</summary>
    public int MaxFailures { get; set; } = 5;

    /// <summary>Window failures are counted in. Default 10 minutes.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>First lockout; each further lockout within <see cref="StrikeMemory"/> doubles it. Default 10 minutes.</summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest lockout. Default 1 day.</summary>
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How long earlier lockouts count towards doubling (fail2ban's recidive jail). Default 7 days.</summary>
    public TimeSpan StrikeMemory { get; set; } = TimeSpan.FromDays(7);
}

/// <summary>
/// Throttles login and signup per (IP, email), fail2ban-style: <see cref="LockoutOptions.MaxFailures"/> failures within
/// the window lock the pair out, doubling on each repeat. Counting is one Lua script in Redis (atomic; Redis TTLs, so
/// instances agree). With Redis unreachable it counts in process, so brute force is still slowed per instance.
/// </summary>
internal sealed class LoginThrottle(RedisConnection redis, RedisKeys keys, LockoutOptions options, TimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(500);

    // KEYS: failures, lock, strikes. ARGV: max failures, window ms, first lockout ms, max lockout ms, strike memory ms.
    // Returns the lockout in ms that this failure started, or 0.
    private const string FailureScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        if n < tonumber(ARGV[1]) then return 0 end
        redis.call('DEL', KEYS[1])
        local s = redis.call('INCR', KEYS[3])
        redis.call('PEXPIRE', KEYS[3], ARGV[5])
        local ban = math.min(tonumber(ARGV[3]) * math.pow(2, s - 1), tonumber(ARGV[4]))
        redis.call('SET', KEYS[2], '1', 'PX', math.floor(ban))
        return math.floor(ban)
        """;

    private readonly ConcurrentDictionary<string, LocalState> _local = new(StringComparer.Ordinal);

    /// <summary>How long the pair is still locked out, or null.</summary>
    public async Task<TimeSpan?> LockedForAsync(string ip, string email, CancellationToken cancellationToken)
    {
        var (_, lockKey, _) = keys.LoginThrottle(ip, email);
        var (reached, ttl, _) = await redis.TryAsync(db => db.KeyTimeToLiveAsync(lockKey), Timeout, cancellationToken);
        if (reached)
            return ttl is { } t && t > TimeSpan.Zero ? t : null;
        return _local.TryGetValue(lockKey, out var s) && s.LockedUntil > time.GetUtcNow() ? s.LockedUntil - time.GetUtcNow() : null;
    }

    /// <summary>Counts a failure; returns the lockout it started, if it did.</summary>
    public async Task<TimeSpan?> RecordFailureAsync(string ip, string email, CancellationToken cancellationToken)
    {
        var (failures, lockKey, strikes) = keys.LoginThrottle(ip, email);
        var (reached, result, _) = await redis.TryAsync(db => db.ScriptEvaluateAsync(FailureScript, [failures, lockKey, strikes],
        [
            options.MaxFailures, (long)options.Window.TotalMilliseconds, (long)options.Duration.TotalMilliseconds,
            (long)options.MaxDuration.TotalMilliseconds, (long)options.StrikeMemory.TotalMilliseconds,
        ]), Timeout, cancellationToken);
        if (!reached)
            return RecordLocally(lockKey);
        var ms = (long)result;
        return ms > 0 ? TimeSpan.FromMilliseconds(ms) : null;
    }

    /// <summary>A success forgets the pair's failures (not its earlier lockouts).</summary>
    public async Task RecordSuccessAsync(string ip, string email, CancellationToken cancellationToken)
    {
        var (failures, lockKey, _) = keys.LoginThrottle(ip, email);
        _local.TryRemove(lockKey, out _);
        // Unreached: nothing to forget remotely while Redis is away; the window expires the count anyway.
        await redis.TryAsync(db => db.KeyDeleteAsync(failures), Timeout, cancellationToken);
    }

    private TimeSpan? RecordLocally(string lockKey)
    {
        var now = time.GetUtcNow();
        TimeSpan? started = null;
        _local.AddOrUpdate(lockKey, _ => new LocalState(1, now, default, 0), (_, s) =>
        {
            var count = now - s.WindowStart > options.Window ? 1 : s.Failures + 1;
            var windowStart = count == 1 ? now : s.WindowStart;
            if (count < options.MaxFailures)
                return s with { Failures = count, WindowStart = windowStart };
            var strikes = s.Strikes + 1;
            var ban = TimeSpan.FromTicks(Math.Min(options.Duration.Ticks * (1L << Math.Min(strikes - 1, 20)), options.MaxDuration.Ticks));
            started = ban;
            return new LocalState(0, now, now + ban, strikes);
        });
        return started;
    }

    private sealed record LocalState(int Failures, DateTimeOffset WindowStart, DateTimeOffset LockedUntil, int Strikes);
}
