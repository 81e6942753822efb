using FsCheck;
using FsCheck.Fluent;
using Sentinel.Core.RateLimiting;

namespace Sentinel.Core.Tests.RateLimiting;

public class TokenBucketTests
{
    [Fact]
    public void Property_NeverBelowZeroNorAboveCapacity_AndTakesExactlyWhatRefilled()
    {
        var ops = Gen.Choose(0, 5_000_000).Zip(Gen.Choose(1, 50)).ArrayOf();
        Prop.ForAll(Arb.From(ops), Arb.From(Gen.Choose(1, 100)), Arb.From(Gen.Choose(1, 1000)), (steps, capacity, refillTenths) =>
        {
            var rate = refillTenths / 10.0;
            TokenBucket.State? state = null;
            long now = 1_000_000_000;
            foreach (var (dt, costRaw) in steps)
            {
                now += dt;
                var cost = Math.Min(costRaw, capacity);
                var refilled = state is { } s ? Math.Min(capacity, s.Tokens + ((now - s.UpdatedMicros) * rate / 1e6)) : capacity;
                var r = TokenBucket.Take(state, now, capacity, rate, cost);
                var expected = r.Allowed ? refilled - cost : refilled;
                if (r.Next.Tokens < 0 || r.Next.Tokens > capacity || Math.Abs(r.Next.Tokens - expected) > 1e-6)
                    return false;
                if (r.Allowed != (cost <= refilled) || (!r.Allowed && r.RetryMicros <= 0))
                    return false;
                state = r.Next;
            }

            return true;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Property_RefillsAtItsRate_UpToCapacity()
    {
        Prop.ForAll(Arb.From(Gen.Choose(1, 100)), Arb.From(Gen.Choose(1, 1000)), Arb.From(Gen.Choose(0, 200_000_000)), (capacity, refillTenths, waitMicros) =>
        {
            var rate = refillTenths / 10.0;
            var r = TokenBucket.Take(new TokenBucket.State(0, 0), waitMicros, capacity, rate, cost: 0);
            return Math.Abs(r.Next.Tokens - Math.Min(capacity, waitMicros * rate / 1e6)) < 1e-9;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Take_EmptyBucket_SaysWhenToRetry()
    {
        var r = TokenBucket.Take(new TokenBucket.State(0.5, 0), 0, capacity: 10, refillPerSecond: 2, cost: 1);

        Assert.False(r.Allowed);
        Assert.Equal(250_000, r.RetryMicros); // half a token at 2/s
        Assert.Equal(4_750_000, r.ResetMicros); // 9.5 tokens at 2/s
    }

    [Fact]
    public void Take_ClockGoingBackwards_RefillsNothing()
    {
        var r = TokenBucket.Take(new TokenBucket.State(3, 10_000_000), 5_000_000, capacity: 10, refillPerSecond: 1, cost: 1);

        Assert.Equal(2, r.Next.Tokens);
        Assert.Equal(10_000_000, r.Next.UpdatedMicros);
    }
}
