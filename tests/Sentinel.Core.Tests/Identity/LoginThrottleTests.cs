using Sentinel.Core.Identity;
using Sentinel.Core.Storage;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.Identity;

public sealed class LoginThrottleTests : IAsyncDisposable
{
    private readonly RedisConnection _redis = new(TestServers.Redis);
    private readonly RedisKeys _keys = new($"test:{Guid.NewGuid():N}:");

    // Real Redis TTLs, scaled down from fail2ban's minutes to fractions of a second.
    private readonly LockoutOptions _options = new()
    {
        MaxFailures = 5,
        Window = TimeSpan.FromSeconds(10),
        Duration = TimeSpan.FromMilliseconds(600),
        MaxDuration = TimeSpan.FromSeconds(5),
        StrikeMemory = TimeSpan.FromSeconds(30),
    };

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task FiveFailures_LockThePair_ThenTheLockReleases_AndARepeatDoublesIt()
    {
        var throttle = new LoginThrottle(_redis, _keys, _options, TimeProvider.System);
        var starts = new List<TimeSpan?>();

        for (var i = 0; i < 5; i++)
            starts.Add(await throttle.RecordFailureAsync("10.0.0.1", "a@example.com", CancellationToken.None));
        var locked = await throttle.LockedForAsync("10.0.0.1", "a@example.com", CancellationToken.None);
        var otherIp = await throttle.LockedForAsync("10.0.0.2", "a@example.com", CancellationToken.None);
        var otherEmail = await throttle.LockedForAsync("10.0.0.1", "b@example.com", CancellationToken.None);
        await Task.Delay(800);
        var released = await throttle.LockedForAsync("10.0.0.1", "a@example.com", CancellationToken.None);
        TimeSpan? second = null;
        for (var i = 0; i < 5; i++)
            second = await throttle.RecordFailureAsync("10.0.0.1", "a@example.com", CancellationToken.None);

        Assert.Equal([null, null, null, null], starts.Take(4));
        Assert.Equal(TimeSpan.FromMilliseconds(600), starts[4]);
        Assert.NotNull(locked);
        Assert.Null(otherIp);
        Assert.Null(otherEmail);
        Assert.Null(released);
        Assert.Equal(TimeSpan.FromMilliseconds(1200), second); // doubled on repeat
    }

    [Fact]
    public async Task Success_ForgetsTheFailures()
    {
        var throttle = new LoginThrottle(_redis, _keys, _options, TimeProvider.System);

        for (var i = 0; i < 4; i++)
            await throttle.RecordFailureAsync("10.0.0.3", "c@example.com", CancellationToken.None);
        await throttle.RecordSuccessAsync("10.0.0.3", "c@example.com", CancellationToken.None);
        var afterOneMore = await throttle.RecordFailureAsync("10.0.0.3", "c@example.com", CancellationToken.None);

        Assert.Null(afterOneMore);
    }

    [Fact]
    public async Task RedisDown_StillLocksOutInProcess()
    {
        await using var redis = new RedisConnection(TestServers.ClosedPort());
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero));
        var throttle = new LoginThrottle(redis, _keys, _options, clock);

        TimeSpan? started = null;
        for (var i = 0; i < 5; i++)
            started = await throttle.RecordFailureAsync("10.0.0.4", "d@example.com", CancellationToken.None);
        var locked = await throttle.LockedForAsync("10.0.0.4", "d@example.com", CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(1));
        var released = await throttle.LockedForAsync("10.0.0.4", "d@example.com", CancellationToken.None);

        Assert.Equal(TimeSpan.FromMilliseconds(600), started);
        Assert.Equal(TimeSpan.FromMilliseconds(600), locked);
        Assert.Null(released);
    }
}
