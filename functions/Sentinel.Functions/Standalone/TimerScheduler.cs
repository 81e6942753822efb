using Sentinel.Core.Scheduling;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;

namespace Sentinel.Functions.Standalone;

/// <summary>
/// What the host's timer extension does, for <c>serve --standalone</c>: runs each timer function on its NCRONTAB
/// schedule (UTC, <c>%Setting%</c> resolved), one run at a time per function, with the TimerInfo payload the host
/// would send (ScheduleStatus null on the first run, <c>IsPastDue</c> when a run starts late).
/// </summary>
internal sealed partial class TimerScheduler(InvocationDispatcher dispatcher, IConfiguration configuration, TimeProvider time, ILogger<TimerScheduler> logger) : BackgroundService
{
    /// <summary>A run that starts this much later than scheduled is reported past due.</summary>
    public static readonly TimeSpan PastDueAfter = TimeSpan.FromSeconds(5);

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Every schedule is resolved before any timer runs: a bad %Setting% or expression faults this service at
        // start (and so stops the host), instead of silently leaving one timer dead beside the others.
        var timers = FunctionRegistry.All.Where(f => f.Trigger is TimerTrigger).Select(f => (f, ScheduleOf(f))).ToList();
        return Task.WhenAll(timers.Select(t => RunAsync(t.f, t.Item2, stoppingToken)));
    }

    /// <summary>Runs one timer function until <paramref name="cancellationToken"/> is cancelled.</summary>
    internal Task RunAsync(FunctionDefinition function, CancellationToken cancellationToken) =>
        RunAsync(function, ScheduleOf(function), cancellationToken);

    private NCrontabSchedule ScheduleOf(FunctionDefinition function) =>
        NCrontabSchedule.Parse(AppSettingExpression.Resolve(((TimerTrigger)function.Trigger).Schedule, k => configuration[k]));

    private async Task RunAsync(FunctionDefinition function, NCrontabSchedule schedule, CancellationToken cancellationToken)
    {
        var trigger = (TimerTrigger)function.Trigger;
        LogScheduled(logger, function.Name, schedule.Expression);
        DateTimeOffset? last = null;
        try
        {
            var due = schedule.GetNextOccurrence(time.GetUtcNow());
            while (due is { } scheduled && !cancellationToken.IsCancellationRequested)
            {
                var wait = scheduled - time.GetUtcNow();
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, time, cancellationToken);
                // A timer can wake a little early: never count the run before its occurrence, or it would fire twice.
                var now = time.GetUtcNow();
                var fired = now > scheduled ? now : scheduled;
                // The next occurrence after this run's start; occurrences missed while a run lasted are skipped, as in the host.
                var next = schedule.GetNextOccurrence(fired) ?? fired;
                var payload = HostPayloads.Timer(function.Name, trigger.BindingName, last, next, fired - scheduled > PastDueAfter, fired);
                var outcome = await dispatcher.DispatchAsync(function, payload, Guid.NewGuid().ToString(), cancellationToken);
                if (outcome.StatusCode is < 200 or > 299)
                    LogFailed(logger, function.Name, outcome.StatusCode);
                last = fired;
                var after = time.GetUtcNow();
                due = schedule.GetNextOccurrence(after > scheduled ? after : scheduled);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Timer {Function} scheduled on '{Schedule}' (UTC)")]
    private static partial void LogScheduled(ILogger logger, string function, string schedule);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Timer {Function} failed with {Status}; it runs again at its next occurrence")]
    private static partial void LogFailed(ILogger logger, string function, int status);
}
