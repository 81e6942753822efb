using System.Globalization;
using Sentinel.Core.Monitoring;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary><c>rollup</c>, every minute: the 1-minute and 1-hour roll-ups of what ingest stored since the last run
/// (<see cref="MetricRollups"/>). A database error answers 500; the ledger still marks the work, so the next run does it.</summary>
internal sealed partial class RollupFunction(MetricRollups rollups, ILogger<RollupFunction> logger) : ITimerFunction
{
    public async Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        var report = await rollups.RunAsync(cancellationToken);
        if (report.Batches > 0)
            LogRollup(logger, report.Batches, report.Minutes, report.Hours);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"rollup: {report.Batches} batches → {report.Minutes} minute(s) ({report.MinuteRows} rows), {report.Hours} hour(s) ({report.HourRows} rows)"));
    }

    [LoggerMessage(EventId = 6101, Level = LogLevel.Debug, Message = "Roll-up: {Batches} batches, {Minutes} minutes, {Hours} hours recomputed")]
    private static partial void LogRollup(ILogger logger, int batches, int minutes, int hours);
}
