using System.Globalization;
using Sentinel.Core.Alerts;
using Sentinel.Core.Monitoring;
using Sentinel.Core.Relay;
using Sentinel.Core.RequestLog;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary>
/// <c>retention</c>, hourly: keeps the request log's day partitions (creates the coming days', drops those past
/// <c>RequestLog:Retention</c>) and the metrics' (raw samples past <c>Monitoring:RawRetention</c>, roll-ups past
/// <c>Monitoring:RollupRetention</c>; partitions or TimescaleDB chunks) and the relay's (messages and quiet conversations
/// past <c>Relay:Retention</c>, never one with a pending delivery) and the alerts' (history past
/// <c>Alerts:HistoryRetention</c>, silences ended a week ago). A database error answers 500, so the next run
/// (or the host) tries again; nothing is half-dropped (one partition per statement).
/// </summary>
internal sealed partial class RetentionFunction(RequestLogRetention requestLog, RequestLogOptions options, MetricRetention metrics, RelayStore relay, RelayOptions relayOptions,
    AlertStore alerts, AlertsOptions alertsOptions, ILogger<RetentionFunction> logger) : ITimerFunction
{
    public async Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        var report = await requestLog.RunAsync(options.Retention, cancellationToken);
        if (report.Dropped.Count > 0 || report.Created.Count > 0)
            LogRetention(logger, report.Created.Count, report.Dropped.Count, report.DefaultRowsDeleted);
        var metricReport = await metrics.RunAsync(cancellationToken);
        if (metricReport.Dropped.Count > 0 || metricReport.Created.Count > 0)
            LogMetricRetention(logger, metricReport.Created.Count, metricReport.Dropped.Count, metricReport.LedgerRowsDeleted);
        var (messages, conversations) = await relay.PurgeAsync(relayOptions.Retention, cancellationToken);
        var (history, silences) = await alerts.PurgeAsync(alertsOptions.HistoryRetention, cancellationToken);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"request_log: created {report.Created.Count} partition(s) [{string.Join(", ", report.Created)}], dropped {report.Dropped.Count} [{string.Join(", ", report.Dropped)}], deleted {report.DefaultRowsDeleted} old default rows; " +
            $"metrics: created {metricReport.Created.Count} [{string.Join(", ", metricReport.Created)}], dropped {metricReport.Dropped.Count} [{string.Join(", ", metricReport.Dropped)}], {metricReport.LedgerRowsDeleted} ledger rows and {metricReport.RejectedEventsDeleted} rejected events deleted; " +
            $"relay: {messages} message(s) and {conversations} conversation(s) past Relay:Retention deleted; " +
            $"alerts: {history} history row(s) past Alerts:HistoryRetention and {silences} silence(s) ended over 7 days ago deleted"));
    }

    [LoggerMessage(EventId = 5201, Level = LogLevel.Information, Message = "Request log retention: {Created} partition(s) created, {Dropped} dropped, {Deleted} old rows deleted from the default partition")]
    private static partial void LogRetention(ILogger logger, int created, int dropped, long deleted);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "Metric retention: {Created} partition(s) created, {Dropped} dropped, {Deleted} ledger rows deleted")]
    private static partial void LogMetricRetention(ILogger logger, int created, int dropped, long deleted);
}
