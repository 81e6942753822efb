using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Core.RateLimiting;
using Sentinel.Core.Storage;
using Sentinel.TestSupport;
using StackExchange.Redis;

namespace Sentinel.Core.Tests.RateLimiting;

public sealed class RateLimiterTests : IAsyncDisposable
{
    private readonly RedisConnection _redis = new(TestServers.Redis);
    private readonly RedisKeys _keys = new($"test:{Guid.NewGuid():N}:");

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    private static RateLimitPolicy Policy(double capacity, double refill) => new() { Name = "p", Capacity = capacity, RefillPerSecond = refill };

    [Fact]
    public async Task Redis_AllowsCapacityThenRefuses_WithRetryAfterFromTheRate()
    {
        var limiter = new RateLimiter(_redis, _keys, TimeProvider.System, NullLogger<RateLimiter>.Instance);
        var policy = Policy(5, 0.5); // one token every 2 s: no refill to speak of during the test

        var decisions = new List<RateLimitDecision>();
        for (var i = 0; i < 6; i++)
            decisions.Add(await limiter.AcquireAsync(policy, "client", null, CancellationToken.None));

        Assert.All(decisions.Take(5), d => Assert.True(d.Allowed));
        Assert.Equal([4, 3, 2, 1, 0], decisions.Take(5).Select(d => (int)Math.Floor(d.Remaining)));
        Assert.False(decisions[5].Allowed);
        Assert.InRange(decisions[5].RetryAfter.TotalSeconds, 1.5, 2.0);
        Assert.InRange(decisions[5].ResetAfter.TotalSeconds, 9.5, 10.0);
        Assert.Equal("\"p\";r=0;t=10", decisions[5].HeaderItem);
        Assert.Equal("\"p\";q=5;w=10", policy.HeaderItem);
        Assert.False(limiter.IsDegraded);
    }

    [Fact]
    public async Task Redis_SubjectsHaveTheirOwnBuckets_AndCostIsHonoured()
    {
        var limiter = new RateLimiter(_redis, _keys, TimeProvider.System, NullLogger<RateLimiter>.Instance);
        var policy = Policy(10, 0.1);

        var big = await limiter.AcquireAsync(policy, "a", 8, CancellationToken.None);
        var tooBig = await limiter.AcquireAsync(policy, "a", 3, CancellationToken.None);
        var other = await limiter.AcquireAsync(policy, "b", 10, CancellationToken.None);

        Assert.True(big.Allowed);
        Assert.False(tooBig.Allowed);
        Assert.True(other.Allowed);
    }

    [Fact]
    public async Task Redis_ConcurrentCallers_NeverGetMoreThanCapacity()
    {
        // A generous timeout: this asserts the script's atomicity, not latency on a machine busy with other tests.
        var limiter = new RateLimiter(_redis, _keys, TimeProvider.System, NullLogger<RateLimiter>.Instance, TimeSpan.FromSeconds(10));
        var policy = Policy(50, 0.01);

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => limiter.AcquireAsync(policy, "shared", null, CancellationToken.None)));

        Assert.Equal(0, limiter.FailOpenDecisions);
        Assert.Equal(50, results.Count(r => r.Allowed));
    }

    [Fact]
    public async Task Probe_ReportsRevocationInTheSameScript()
    {
        var limiter = new RateLimiter(_redis, _keys, TimeProvider.System, NullLogger<RateLimiter>.Instance);
        var db = await _redis.GetDatabaseAsync(CancellationToken.None);
        await db.StringSetAsync(_keys.RevokedToken("jti-revoked"), "1");
        await db.StringSetAsync(_keys.UserCutoff("t", "cut"), "1000");
        var policy = Policy(100, 1);

        var clean = await limiter.AcquireAsync(policy, "s", null, new Sentinel.Core.Identity.RevocationProbe(_keys.RevokedToken("jti-ok"), _keys.UserCutoff("t", "u"), 2000), CancellationToken.None);
        var byJti = await limiter.AcquireAsync(policy, "s", null, new Sentinel.Core.Identity.RevocationProbe(_keys.RevokedToken("jti-revoked"), _keys.UserCutoff("t", "u"), 2000), CancellationToken.None);
        var beforeCut = await limiter.AcquireAsync(policy, "s", null, new Sentinel.Core.Identity.RevocationProbe(_keys.RevokedToken("jti-ok"), _keys.UserCutoff("t", "cut"), 1000), CancellationToken.None);
        var afterCut = await limiter.AcquireAsync(policy, "s", null, new Sentinel.Core.Identity.RevocationProbe(_keys.RevokedToken("jti-ok"), _keys.UserCutoff("t", "cut"), 1001), CancellationToken.None);
        var noProbe = await limiter.AcquireAsync(policy, "s", null, null, CancellationToken.None);

        Assert.Equal([false, true, true, false], new[] { clean.Revoked, byJti.Revoked, beforeCut.Revoked, afterCut.Revoked });
        Assert.Null(noProbe.Revoked);
        Assert.Equal(95, (int)Math.Floor(noProbe.Decision.Remaining));
    }

    [Fact]
    public async Task Script_RefillsByRedisTime()
    {
        var limiter = new RateLimiter(_redis, _keys, TimeProvider.System, NullLogger<RateLimiter>.Instance);
        // 0.5 tokens/s: a token needs 2 s, so neither a cold run's first call (JIT, connect) nor a machine busy with the
        // other test assemblies can refill the bucket between the two acquisitions; 4.2 s brings back both.
        var policy = Policy(2, 0.5);

        await limiter.AcquireAsync(policy, "r", 2, CancellationToken.None);
        var empty = await limiter.AcquireAsync(policy, "r", 1, CancellationToken.None);
        await Task.Delay(4200);
        var refilled = await limiter.AcquireAsync(policy, "r", 2, CancellationToken.None);

        Assert.False(empty.Allowed);
        Assert.True(refilled.Allowed);
    }

    [Fact]
    public async Task Script_KeyExpiresOnceFull()
    {
        var limiter = new RateLimiter(_redis, _keys, TimeProvider.System, NullLogger<RateLimiter>.Instance);
        await limiter.AcquireAsync(Policy(1, 1), "ttl", null, CancellationToken.None);

        var db = await _redis.GetDatabaseAsync(CancellationToken.None);
        var ttl = await db.KeyTimeToLiveAsync((RedisKey)_keys.Bucket("p", "ttl"));

        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value.TotalSeconds, 1, 2.1);
    }

    [Fact]
    public async Task RedisStopped_FailsOpenInProcess_ThenReturnsToRedisWhenItRestarts()
    {
        await using var server = await RedisProcess.StartAsync();
        await using var redis = new RedisConnection(server.ConnectionString);
        var limiter = new RateLimiter(redis, _keys, TimeProvider.System, NullLogger<RateLimiter>.Instance);
        var policy = Policy(3, 0.01);
        Assert.True((await limiter.AcquireAsync(policy, "x", null, CancellationToken.None)).Allowed);

        await server.StopAsync();
        var during = new List<RateLimitDecision>();
        for (var i = 0; i < 5; i++)
            during.Add(await limiter.AcquireAsync(policy, "x", null, CancellationToken.None));

        // Still limited, per instance: a fresh in-process bucket of 3.
        Assert.True(limiter.IsDegraded);
        Assert.NotNull(limiter.DegradedSince);
        Assert.Equal([true, true, true, false, false], during.Select(d => d.Allowed));
        Assert.Equal(5, limiter.FailOpenDecisions);
        Assert.Equal(1, limiter.FailOpenEpisodes);

        await server.StartAgainAsync();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        RateLimitDecision after;
        do
        {
            await Task.Delay(250);
            after = await limiter.AcquireAsync(policy, "y", null, CancellationToken.None);
        }
        while (limiter.IsDegraded && deadline.Elapsed < TimeSpan.FromSeconds(30));

        Assert.False(limiter.IsDegraded);
        Assert.True(after.Allowed);
        var db = await redis.GetDatabaseAsync(CancellationToken.None);
        Assert.True(await db.KeyExistsAsync((RedisKey)_keys.Bucket("p", "y")));
    }
}
