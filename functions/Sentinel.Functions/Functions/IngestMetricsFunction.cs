using System.Globalization;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Alerts;
using Sentinel.Core.Monitoring;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary>
/// <c>ingest-metrics</c>: agent metric batches from Event Hubs into PostgreSQL (<see cref="MetricIngest"/>). A batch that
/// fails verification is recorded in <c>rejected_events</c> and acknowledged; a database error escapes, so the
/// dispatcher answers non-2xx and the host's retry policy (infinite, with backoff) runs the same events again — the
/// partition waits rather than losing them, and the batch ledger makes the re-run store each batch once.
/// </summary>
internal sealed partial class IngestMetricsFunction(MetricIngest ingest, AlertEvaluator alerts, ILogger<IngestMetricsFunction> logger) : IEventHubFunction
{
    public async Task<InvocationResult> RunAsync(EventHubBatch batch, InvocationContext context, CancellationToken cancellationToken)
    {
        var partition = batch.Partition.PartitionId ?? "?";
        var events = new List<MetricEvent>(batch.Events.Count);
        foreach (var e in batch.Events)
        {
            // dataType string: the host decoded the event's bytes as UTF-8; the agent writes UTF-8 JSON, so the string's
            // UTF-8 is the exact bytes it signed (protocol notes §2.b).
            events.Add(new MetricEvent(e.BodyUtf8,
                e.Property(AgentSignature.AgentProperty), e.Property(AgentSignature.KeyVersionProperty),
                e.Property(AgentSignature.TimestampProperty), e.Property(AgentSignature.SignatureProperty),
                e.EnqueuedTime,
                string.Create(CultureInfo.InvariantCulture, $"{partition}/{e.SequenceNumber?.ToString(CultureInfo.InvariantCulture) ?? "?"}")));
        }

        var report = await ingest.IngestAsync(events, context.FunctionName, cancellationToken);
        if (report.Rejected > 0)
            LogRejected(logger, report.Rejected, partition, report.Reasons[0]);
        LogBatch(logger, batch.Events.Count, partition, report.Stored, report.Duplicates, report.Samples);
        await EvaluateAlertsAsync(report, cancellationToken);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"{batch.Events.Count} events from partition {partition}: {report.Stored} stored ({report.Samples} samples), {report.Duplicates} duplicates, {report.Rejected} rejected"));
    }

    /// <summary>The rules over what was just stored, evaluated now rather than at the next minute. The batch is committed
    /// already: a failure here is logged, never retried through the host (that would re-run a stored batch), and the
    /// <c>alerts-absent</c> timer evaluates every rule again within a minute.</summary>
    private async Task EvaluateAlertsAsync(IngestReport report, CancellationToken cancellationToken)
    {
        try
        {
            await alerts.EvaluateTouchedAsync(report.TouchedSeries, cancellationToken);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
        {
            LogAlertsFailed(logger, ex.GetType().Name, ex.Message);
        }
    }

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Alert evaluation after ingest failed ({Error}: {Message}); the minute timer evaluates again")]
    private static partial void LogAlertsFailed(ILogger logger, string error, string message);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Debug, Message = "Batch of {Count} events from partition {Partition}: {Stored} stored, {Duplicates} duplicates, {Samples} samples")]
    private static partial void LogBatch(ILogger logger, int count, string partition, int stored, int duplicates, int samples);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "{Rejected} metric events from partition {Partition} rejected (recorded in rejected_events), first: {Reason}")]
    private static partial void LogRejected(ILogger logger, int rejected, string partition, string reason);
}
