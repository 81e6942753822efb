using System.Globalization;
using System.Text;
using System.Text.Json;
using Sentinel.Core.Storage;
using Sentinel.Functions.CustomHandler;

namespace Sentinel.Functions.Functions;

/// <summary>
/// <c>ingest-metrics</c>: agent metric batches from Event Hubs. The foundation checks that each event is a JSON object and
/// records the ones that are not in <c>rejected_events</c> (acknowledged, never retried); verification, the batch
/// ledger and the COPY into PostgreSQL arrive with the monitoring pipeline (issue #4).
/// </summary>
internal sealed partial class IngestMetricsFunction(RejectedEventStore rejected, ILogger<IngestMetricsFunction> logger) : IEventHubFunction
{
    public async Task<InvocationResult> RunAsync(EventHubBatch batch, InvocationContext context, CancellationToken cancellationToken)
    {
        var accepted = 0;
        var rejectedCount = 0;
        foreach (var e in batch.Events)
        {
            if (IsJsonObject(e.Body))
            {
                accepted++;
                continue;
            }

            rejectedCount++;
            var source = string.Create(CultureInfo.InvariantCulture, $"partition {batch.Partition.PartitionId ?? "?"} seq {e.SequenceNumber?.ToString(CultureInfo.InvariantCulture) ?? "?"}");
            await rejected.RecordAsync(null, context.FunctionName, source, "The event body is not a JSON object.", Encoding.UTF8.GetBytes(e.Body), cancellationToken);
        }

        LogBatch(logger, batch.Events.Count, batch.Partition.PartitionId, rejectedCount);
        return InvocationResult.Ok(string.Create(CultureInfo.InvariantCulture,
            $"{batch.Events.Count} events from partition {batch.Partition.PartitionId ?? "?"}: {accepted} accepted, {rejectedCount} rejected"));
    }

    private static bool IsJsonObject(string body)
    {
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(body));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            reader.Skip();
            return !reader.Read(); // nothing after the object
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Batch of {Count} events from partition {Partition}, {Rejected} rejected")]
    private static partial void LogBatch(ILogger logger, int count, string? partition, int rejected);
}
