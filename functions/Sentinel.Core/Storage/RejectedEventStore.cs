using Npgsql;
using NpgsqlTypes;

namespace Sentinel.Core.Storage;

/// <summary>
/// Records events that reached a function but must never be retried, so they can be inspected instead of blocking
/// their partition. If recording itself fails the caller answers non-2xx and the host retries: nothing is
/// acknowledged that was not recorded.
/// </summary>
internal sealed class RejectedEventStore(NpgsqlDataSource dataSource)
{
    /// <summary>Payloads are kept up to this size; the rest is cut.</summary>
    public const int MaxPayloadBytes = 64 * 1024;

    public async Task RecordAsync(string? tenantId, string function, string source, string reason, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await RecordAsync(connection, null, [new RejectedEvent(tenantId, function, source, reason, payload)], cancellationToken);
    }

    /// <summary>Records on the caller's connection, inside its transaction (one round trip for all of them): the
    /// rejections commit with the rest or not at all.</summary>
    public static async Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<RejectedEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
            return;
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var e in events)
        {
            var command = new NpgsqlBatchCommand("insert into rejected_events (tenant_id, function, source, reason, payload) values ($1, $2, $3, $4, $5)");
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)e.TenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = e.Function });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = e.Source });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = e.Reason.Length > 2000 ? e.Reason[..2000] : e.Reason });
            var cut = e.Payload.Length > MaxPayloadBytes ? e.Payload[..MaxPayloadBytes] : e.Payload;
            command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = cut.ToArray() });
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>One event to record as rejected: its tenant when known, the function, where it came from, why, and the payload.</summary>
internal sealed record RejectedEvent(string? TenantId, string Function, string Source, string Reason, ReadOnlyMemory<byte> Payload);
