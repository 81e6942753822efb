using System.Globalization;
using Sentinel.Core.Insights;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary><c>heuristics</c>, every minute at :30: brute force (and its IP blocks), floods, error spikes, latency
/// regressions, metric anomalies and the chatbot stack, written as insights. A database error answers 500; nothing of the
/// pass was committed (an IP blocked in Redis stays blocked: the block is the point), and the next minute looks again.</summary>
internal sealed partial class HeuristicsFunction(Heuristics heuristics, ILogger<HeuristicsFunction> logger) : ITimerFunction
{
    public async Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        if (timer.IsPastDue)
            LogPastDue(logger, timer.Last);
        var report = await heuristics.RunAsync(cancellationToken);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"heuristics: {report.Insights} insight(s) recorded, {report.Resolved} resolved, {report.Blocked} IP(s) blocked; {report.SeriesChecked} series checked"));
    }

    [LoggerMessage(EventId = 8101, Level = LogLevel.Warning, Message = "heuristics is past due (last run {Last})")]
    private static partial void LogPastDue(ILogger logger, DateTimeOffset? last);
}
