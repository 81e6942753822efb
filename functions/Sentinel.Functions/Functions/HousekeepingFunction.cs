using System.Globalization;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary>
/// The timer functions whose work has not arrived yet (<c>heuristics</c>,
/// <c>alerts-absent</c>): each routes, reads its TimerInfo and acknowledges. Their work arrives with the features that
/// own the data — heuristics and absent-data rules with #7 — each registering
/// its own <see cref="ITimerFunction"/> under the function's name in place of this one (as <c>retention</c>, <c>rollup</c> and <c>relay-redrive</c> do).
/// </summary>
internal sealed partial class HousekeepingFunction(ILogger<HousekeepingFunction> logger) : ITimerFunction
{
    public Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        if (timer.IsPastDue)
            LogPastDue(logger, context.FunctionName, timer.Last);
        return Task.FromResult(InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"{context.FunctionName}: nothing registered to run yet (last run {timer.Last?.ToString("O", CultureInfo.InvariantCulture) ?? "never"}, past due {timer.IsPastDue})")));
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Timer {Function} is past due (last run {Last})")]
    private static partial void LogPastDue(ILogger logger, string function, DateTimeOffset? last);
}
