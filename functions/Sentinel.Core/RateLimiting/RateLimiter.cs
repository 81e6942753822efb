using System.Globalization;
using Microsoft.Extensions.Logging;
using Sentinel.Core.Storage;
using StackExchange.Redis;

namespace Sentinel.Core.RateLimiting;

/// <summary>
/// Token buckets in Redis: one Lua script per decision (atomic, one round trip), timed by Redis <c>TIME</c> so
/// instances with skewed clocks agree. When Redis is unreachable it fails open to an in-process bucket per
/// instance — logged, counted and shown in <c>/api/health</c> — and tries Redis again every
/// <see cref="RetryRedisAfter"/>, returning to it by itself when it answers.
/// </summary>
internal sealed partial class RateLimiter(RedisConnection redis, RedisKeys keys, TimeProvider time, ILogger<RateLimiter> logger, TimeSpan? redisTimeout = null)
{
    /// <summary>Default of how long a decision may wait for Redis's answer before the local bucket decides instead (the
    /// first connection has the connection string's connectTimeout on top).</summary>
    public static readonly TimeSpan DefaultRedisTimeout = TimeSpan.FromMilliseconds(500);

    private readonly TimeSpan _redisTimeout = redisTimeout ?? DefaultRedisTimeout;

    /// <summary>After a Redis failure, decisions stay local this long before Redis is tried again.</summary>
    public static readonly TimeSpan RetryRedisAfter = TimeSpan.FromSeconds(2);

    /// <summary>
    /// KEYS[1] the bucket hash {t = tokens, ts = µs}; ARGV capacity, refill/s, cost. Returns
    /// {allowed, tokens (string: Lua numbers are doubles), retry µs, reset µs, revoked}. Mirrors <see cref="TokenBucket.Take"/>.
    /// With KEYS[2] (a revoked-jti key) and KEYS[3] (a user's cut-off, compared with ARGV[4] = the token's iat) it also
    /// says whether the caller's token was revoked, so an authenticated request costs one round trip, not two.
    /// (In a clustered Redis these keys would need one hash slot; Azure Cache for Redis Basic/Standard is not clustered.)
    /// </summary>
    internal const string Script = """
        local revoked = 0
        if #KEYS >= 3 then
          if redis.call('EXISTS', KEYS[2]) == 1 then
            revoked = 1
          else
            local cut = redis.call('GET', KEYS[3])
            if cut and tonumber(ARGV[4]) <= tonumber(cut) then revoked = 1 end
          end
        end
        local cap = tonumber(ARGV[1])
        local rate = tonumber(ARGV[2])
        local cost = tonumber(ARGV[3])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local b = redis.call('HMGET', KEYS[1], 't', 'ts')
        local tokens = tonumber(b[1])
        local ts = tonumber(b[2])
        if tokens == nil or ts == nil then
          tokens = cap
          ts = now
        end
        if now > ts then
          tokens = math.min(cap, tokens + (now - ts) * rate / 1000000)
          ts = now
        end
        local allowed = 0
        local retry = 0
        if cost <= tokens then
          tokens = tokens - cost
          allowed = 1
        else
          retry = math.ceil((cost - tokens) * 1000000 / rate)
        end
        local reset = math.ceil((cap - tokens) * 1000000 / rate)
        redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', string.format('%d', ts))
        redis.call('PEXPIRE', KEYS[1], math.ceil(reset / 1000) + 1000)
        return {allowed, string.format('%.17g', tokens), retry, reset, revoked}
        """;

    private readonly Dictionary<string, TokenBucket.State> _local = new(StringComparer.Ordinal); // under _localGate
    private readonly Lock _localGate = new();
    private long _redisRetryAtTicks;
    private long _failOpenDecisions;
    private long _failOpenEpisodes;
    private long _degradedSinceTicks;

    /// <summary>True while decisions are made in process because Redis is unreachable.</summary>
    public bool IsDegraded => Volatile.Read(ref _degradedSinceTicks) != 0;

    /// <summary>When the current fail-open episode began, if one is going on.</summary>
    public DateTimeOffset? DegradedSince => Volatile.Read(ref _degradedSinceTicks) is var t and not 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>Decisions taken in process since start.</summary>
    public long FailOpenDecisions => Interlocked.Read(ref _failOpenDecisions);

    /// <summary>Times Redis was lost since start.</summary>
    public long FailOpenEpisodes => Interlocked.Read(ref _failOpenEpisodes);

    public async Task<RateLimitDecision> AcquireAsync(RateLimitPolicy policy, string subject, double? cost, CancellationToken cancellationToken) =>
        (await AcquireAsync(policy, subject, cost, null, cancellationToken)).Decision;

    /// <summary>
    /// A decision, and with a <paramref name="probe"/> whether the caller's token was revoked: true/false from Redis,
    /// null when Redis could not be asked (the decision was made in process).
    /// </summary>
    public async Task<(RateLimitDecision Decision, bool? Revoked)> AcquireAsync(RateLimitPolicy policy, string subject, double? cost, Identity.RevocationProbe? probe, CancellationToken cancellationToken)
    {
        var take = cost ?? policy.Cost;
        var key = keys.Bucket(policy.Name, subject);
        if (time.GetUtcNow().UtcTicks >= Volatile.Read(ref _redisRetryAtTicks))
        {
            var (reached, answer, error) = await redis.TryAsync(db => AcquireFromRedisAsync(db, policy, key, take, probe), _redisTimeout, cancellationToken);
            if (reached)
            {
                if (Interlocked.Exchange(ref _degradedSinceTicks, 0) is var since and not 0)
                {
                    lock (_localGate)
                        _local.Clear();
                    LogRedisBack(logger, (time.GetUtcNow() - new DateTimeOffset(since, TimeSpan.Zero)).TotalSeconds);
                }

                return answer;
            }

            Volatile.Write(ref _redisRetryAtTicks, (time.GetUtcNow() + RetryRedisAfter).UtcTicks);
            if (Interlocked.CompareExchange(ref _degradedSinceTicks, time.GetUtcNow().UtcTicks, 0) == 0)
            {
                Interlocked.Increment(ref _failOpenEpisodes);
                LogFailOpen(logger, error!.GetType().Name, error.Message);
            }
        }

        Interlocked.Increment(ref _failOpenDecisions);
        return (AcquireLocally(policy, key, take), null);
    }

    private static async Task<(RateLimitDecision, bool?)> AcquireFromRedisAsync(IDatabase db, RateLimitPolicy policy, string key, double cost, Identity.RevocationProbe? probe)
    {
        RedisKey[] keys = probe is null ? [key] : [key, probe.TokenKey, probe.UserKey];
        RedisValue[] values =
        [
            policy.Capacity.ToString("R", CultureInfo.InvariantCulture),
            policy.RefillPerSecond.ToString("R", CultureInfo.InvariantCulture),
            cost.ToString("R", CultureInfo.InvariantCulture),
            probe?.IssuedAtSeconds ?? 0,
        ];
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(Script, keys, values))!;
        var remaining = double.Parse((string)result[1]!, NumberStyles.Float, CultureInfo.InvariantCulture);
        var decision = new RateLimitDecision((long)result[0] == 1, remaining, TimeSpan.FromMicroseconds((long)result[2]), TimeSpan.FromMicroseconds((long)result[3]), policy);
        return (decision, probe is null ? null : (long)result[4] == 1);
    }

    private RateLimitDecision AcquireLocally(RateLimitPolicy policy, string key, double cost)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
        lock (_localGate)
        {
            if (_local.Count > 100_000)
                _local.Clear(); // bounded: an attacker cycling subjects cannot grow it without limit
            var current = _local.TryGetValue(key, out var s) ? s : (TokenBucket.State?)null;
            var (next, allowed, remaining, retry, reset) = TokenBucket.Take(current, now, policy.Capacity, policy.RefillPerSecond, cost);
            _local[key] = next;
            return new RateLimitDecision(allowed, remaining, TimeSpan.FromMicroseconds(retry), TimeSpan.FromMicroseconds(reset), policy);
        }
    }

    [LoggerMessage(EventId = 5100, Level = LogLevel.Error, Message = "Rate limiting fails open to in-process buckets, and token revocations made on other instances go unchecked: Redis unreachable ({Error}: {Message})")]
    private static partial void LogFailOpen(ILogger logger, string error, string message);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Rate limiting back on Redis after {Seconds:0.0} s in process")]
    private static partial void LogRedisBack(ILogger logger, double seconds);
}
