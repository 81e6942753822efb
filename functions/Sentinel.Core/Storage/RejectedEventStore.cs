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
        await RecordAsync(connection, null, tenantId, function, source, reason, payload, cancellationToken);
    }

    /// <summary>Records on the caller's connection, inside its transaction: the rejection commits with the rest or not at all.</summary>
    public static async Task RecordAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string? tenantId, string function, string source, string reason,
        ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "insert into rejected_events (tenant_id, function, source, reason, payload) values ($1, $2, $3, $4, $5)", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = function });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = source });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reason.Length > 2000 ? reason[..2000] : reason });
        var cut = payload.Length > MaxPayloadBytes ? payload[..MaxPayloadBytes] : payload;
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = cut.ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
