using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sentinel.Core.Alerts;

namespace Sentinel.Core.Relay;

/// <summary>What one drain did.</summary>
internal sealed record DrainReport(int Attempts, int Delivered, int Retried, int Dead);

/// <summary>
/// Drains the outbox: claims the deliveries that are due and head their lane, sends them (up to
/// <see cref="RelayOptions.Concurrency"/> at once, so conversations go in parallel while each one goes in order), records
/// each attempt and claims again until nothing is due. Ingress signals it after a commit (the immediate attempt); the
/// <c>relay-redrive</c> timer drains whatever is due. A per-target circuit breaker (<see cref="RelayOptions.BreakerThreshold"/>
/// consecutive failures open it for <see cref="RelayOptions.BreakerOpenFor"/>) keeps a dead target from holding workers
/// that other targets need.
/// </summary>
internal sealed partial class RelayDispatcher(
    RelayStore store, RelayRouteStore routes, RelaySender sender, AlertNotificationSender notifications, RelayOptions options, TimeProvider time, ILogger<RelayDispatcher> logger)
{
    /// <summary>How long a claimed delivery is kept from other processes: the longest timeout and a margin.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(90);

    /// <summary>How long finished attempts wait for others finishing with them before they are recorded together.</summary>
    private static readonly TimeSpan CoalesceFor = TimeSpan.FromMilliseconds(10);

    private readonly ConcurrentDictionary<string, Breaker> _breakers = new(StringComparer.Ordinal);
    private readonly Channel<bool> _signals = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _delivered, _failed, _dead;

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Failed => Interlocked.Read(ref _failed);

    public long DeadLettered => Interlocked.Read(ref _dead);

    /// <summary>Asks the pump for a drain (coalesced: one pending signal is enough).</summary>
    public void Signal() => _signals.Writer.TryWrite(true);

    /// <summary>Waits for a signal, or for the next check of what has come due.</summary>
    public async Task WaitForSignalAsync(TimeSpan max, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(max);
        try
        {
            await _signals.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Time to look anyway.
        }
    }

    /// <summary>
    /// Keeps up to <see cref="RelayOptions.Concurrency"/> attempts in flight: claims what is due, and whenever attempts
    /// finish records all that have finished in one transaction and claims again (a lane's next delivery becomes
    /// claimable once its head is settled). A slow or hanging target holds only its own slots, never the others' — their
    /// attempts are recorded and followed as they finish. Also claims on a signal from ingress and once a second. Stops
    /// claiming after <paramref name="budget"/>, then waits for what is in flight.
    /// </summary>
    public async Task<DrainReport> DrainAsync(TimeSpan budget, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        int attempts = 0, delivered = 0, retried = 0, dead = 0;
        var inFlight = new List<Task<AttemptRecord>>();
        Task<bool>? signal = null;
        var claim = true;
        while (true)
        {
            var claiming = Stopwatch.GetElapsedTime(started) < budget && !cancellationToken.IsCancellationRequested;
            if (claiming && (claim || inFlight.Count == 0) && inFlight.Count < options.Concurrency)
            {
                var claimed = await store.ClaimAsync(options.Concurrency - inFlight.Count, Lease, OpenBreakers(), cancellationToken);
                foreach (var work in claimed)
                    inFlight.Add(AttemptAsync(work, cancellationToken));
                claim = false;
            }

            if (inFlight.Count == 0)
                break;

            signal ??= _signals.Reader.WaitToReadAsync(cancellationToken).AsTask();
            var tick = Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var first = await Task.WhenAny([.. inFlight, signal, tick]);
            if (first == signal)
            {
                _signals.Reader.TryRead(out _);
                signal = null;
            }

            // Claim again on a signal or a tick, or once a quarter of the slots are free (claims in chunks under load).
            claim = first == signal || first == tick;
            if (!inFlight.Any(t => t.IsCompleted))
                continue;
            // Let the attempts finishing about now join this record and this claim: one transaction and one claim for
            // many deliveries under load; a hanging one is left in flight.
            await Task.WhenAny(Task.WhenAll(inFlight), Task.Delay(CoalesceFor, CancellationToken.None));
            var done = inFlight.Where(t => t.IsCompleted).ToList();
            inFlight.RemoveAll(t => t.IsCompleted);
            claim |= options.Concurrency - inFlight.Count >= Math.Max(1, options.Concurrency / 4);
            var records = new List<AttemptRecord>(done.Count);
            foreach (var t in done)
                records.Add(await t);
            // One transaction records everything that finished together.
            await store.CompleteAsync(records, CancellationToken.None);
            foreach (var r in records)
            {
                attempts++;
                _ = r.Outcome.Result switch
                {
                    AttemptResult.Delivered => delivered++,
                    AttemptResult.Retry => retried++,
                    _ => dead++,
                };
                if (r.Outcome.Result == AttemptResult.Dead)
                    await AfterDeadAsync(r);
            }
        }

        return new DrainReport(attempts, delivered, retried, dead);
    }

    private async Task<AttemptRecord> AttemptAsync(DeliveryWork work, CancellationToken cancellationToken)
    {
        RelayRoute? route = null;
        AttemptOutcome outcome;
        if (work.Operation == ReceiverTargets.Operation)
        {
            outcome = await notifications.SendAsync(work, cancellationToken);
        }
        else
        {
            route = await routes.FindAsync(work.Instance, cancellationToken);
            if (route is not null && route.TenantId != work.TenantId)
                route = null;
            outcome = route is null
                ? new AttemptOutcome(AttemptResult.Dead, null, 0, $"Instance '{work.Instance}' has no route any more.")
                : await sender.SendAsync(work, route, cancellationToken);
        }

        var key = BreakerKey(work.TenantId, work.Instance, work.Target);
        if (outcome.Result == AttemptResult.Delivered)
        {
            _breakers.TryRemove(key, out _);
            Interlocked.Increment(ref _delivered);
        }
        else
        {
            Interlocked.Increment(ref _failed);
            var breaker = _breakers.GetOrAdd(key, _ => new Breaker());
            if (breaker.Fail(options.BreakerThreshold, options.BreakerOpenFor))
                LogBreakerOpen(logger, work.Target, work.Instance, options.BreakerOpenFor.TotalSeconds);
        }

        return new AttemptRecord(work, outcome, route);
    }

    /// <summary>A dead letter is logged; a 410 Gone also disables its target and dead-letters what waits for it.</summary>
    private async Task AfterDeadAsync(AttemptRecord r)
    {
        var (work, outcome, route) = r;
        Interlocked.Increment(ref _dead);
        LogDead(logger, work.Id, work.Target, work.Instance, outcome.Error ?? "");
        if (outcome.Status == 410 && work.Operation == ReceiverTargets.Operation)
        {
            var reason = $"410 Gone at {time.GetUtcNow():yyyy-MM-ddTHH:mm:ssZ}";
            await notifications.DisableAsync(work, reason, CancellationToken.None);
            var killed = await store.KillTargetAsync(work.TenantId, work.Instance, work.Target, $"{work.Target} disabled: it answered 410 Gone", CancellationToken.None);
            LogDisabled(logger, work.Target, work.Instance, killed);
        }
        else if (outcome.Status == 410 && route is not null)
        {
            var reason = $"410 Gone at {time.GetUtcNow():yyyy-MM-ddTHH:mm:ssZ}";
            await routes.DisableTargetAsync(work.TenantId, work.Instance, work.Target, reason, CancellationToken.None);
            var killed = await store.KillTargetAsync(work.TenantId, work.Instance, work.Target, $"{work.Target} disabled: it answered 410 Gone", CancellationToken.None);
            LogDisabled(logger, work.Target, work.Instance, killed);
        }
    }

    /// <summary>How many targets have their breaker open now.</summary>
    public int OpenBreakerCount => OpenBreakers().Length;

    private string[] OpenBreakers()
    {
        if (_breakers.IsEmpty)
            return [];
        var now = Stopwatch.GetTimestamp();
        return _breakers.Where(b => b.Value.IsOpen(now)).Select(b => b.Key).ToArray();
    }

    private static string BreakerKey(string tenant, string instance, string target) => tenant + "/" + instance + "/" + target;

    /// <summary>Consecutive failures of one target; open for a while once they reach the threshold, then one trial.</summary>
    private sealed class Breaker
    {
        private int _failures;
        private long _openUntil;

        public bool IsOpen(long now) => Interlocked.Read(ref _openUntil) > now;

        public bool Fail(int threshold, TimeSpan openFor)
        {
            if (Interlocked.Increment(ref _failures) < threshold)
                return false;
            Interlocked.Exchange(ref _failures, 0);
            Interlocked.Exchange(ref _openUntil, Stopwatch.GetTimestamp() + (long)(openFor.TotalSeconds * Stopwatch.Frequency));
            return true;
        }
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Relay target {Target} of {Instance}: circuit open for {Seconds} s after consecutive failures")]
    private static partial void LogBreakerOpen(ILogger logger, string target, string instance, double seconds);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Relay delivery {Id} to {Target} of {Instance} dead-lettered: {Error}")]
    private static partial void LogDead(ILogger logger, long id, string target, string instance, string error);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "Relay target {Target} of {Instance} disabled after 410 Gone; {Count} pending deliveries dead-lettered")]
    private static partial void LogDisabled(ILogger logger, string target, string instance, int count);
}
