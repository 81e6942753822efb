using System.Globalization;
using Sentinel.Core.RequestLog;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary>
/// <c>retention</c>, hourly: keeps the request log's day partitions (creates the coming days', drops those past
/// <c>RequestLog:Retention</c>). Metric partitions and roll-ups join it with the monitoring pipeline (issue #4).
/// A database error answers 500, so the next run (or the host) tries again; nothing is half-dropped (one partition
/// per statement).
/// </summary>
internal sealed partial class RetentionFunction(RequestLogRetention requestLog, RequestLogOptions options, ILogger<RetentionFunction> logger) : ITimerFunction
{
    public async Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        var report = await requestLog.RunAsync(options.Retention, cancellationToken);
        if (report.Dropped.Count > 0 || report.Created.Count > 0)
            LogRetention(logger, report.Created.Count, report.Dropped.Count, report.DefaultRowsDeleted);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"request_log: created {report.Created.Count} partition(s) [{string.Join(", ", report.Created)}], dropped {report.Dropped.Count} [{string.Join(", ", report.Dropped)}], deleted {report.DefaultRowsDeleted} old default rows"));
    }

    [LoggerMessage(EventId = 5201, Level = LogLevel.Information, Message = "Request log retention: {Created} partition(s) created, {Dropped} dropped, {Deleted} old rows deleted from the default partition")]
    private static partial void LogRetention(ILogger logger, int created, int dropped, long deleted);
}
