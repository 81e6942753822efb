namespace Sentinel.TestSupport;

/// <summary>A clock that moves only when told (Microsoft.Extensions.TimeProvider.Testing is not on the feed).</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;

    public void Set(DateTimeOffset to) => _now = to;
}
