using System.Globalization;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary>
/// The timer function whose work has not arrived yet (<c>heuristics</c>): it routes, reads its TimerInfo and
/// acknowledges. The heuristics of #7 will register their own <see cref="ITimerFunction"/> under the function's name in
/// place of this one (as <c>retention</c>, <c>rollup</c>, <c>relay-redrive</c> and <c>alerts-absent</c> do).
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
