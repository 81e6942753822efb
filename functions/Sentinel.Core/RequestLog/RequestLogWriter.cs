using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Core.Configuration;

namespace Sentinel.Core.RequestLog;

/// <summary>One API request as logged; <see cref="Account"/> is the email a failed sign-in named (brute-force detection), else null.</summary>
internal readonly record struct RequestLogEntry(
    DateTimeOffset Timestamp,
    string? TenantId,
    string? Principal,
    IPAddress? Ip,
    string Method,
    string Route,
    int Status,
    double DurationMs,
    long BytesIn,
    long BytesOut,
    bool RateLimited,
    string? Account = null);

/// <summary>Configuration section <c>RequestLog</c>.</summary>
[SettingsSection("RequestLog")]
internal sealed class RequestLogOptions
{
    /// <summary>Log API requests at all. Default true (benchmarks switch it off to measure its cost).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Entries held in memory waiting for the database; beyond this they are dropped and counted. Default 50,000.</summary>
    public int Capacity { get; set; } = 50_000;

    /// <summary>Rows per COPY. Default 5,000.</summary>
    public int BatchSize { get; set; } = 5_000;

    /// <summary>Longest an entry waits before its batch is written. Default 1 second.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long rows are kept; whole day partitions older than this are dropped hourly. Default 30 days.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);
}

/// <summary>
/// The request log's write path: a bounded in-memory channel that never blocks a response (a full channel drops the
/// entry and counts it), drained by one loop that writes batches by binary COPY into the day-partitioned
/// <c>request_log</c>. A failed batch is retried with backoff, holding the channel's entries meanwhile; on shutdown
/// the loop drains what is queued.
/// </summary>
internal sealed partial class RequestLogWriter(NpgsqlDataSource dataSource, RequestLogOptions options, TimeProvider time, ILogger<RequestLogWriter> logger)
{
    private readonly Channel<RequestLogEntry> _channel = Channel.CreateBounded<RequestLogEntry>(new BoundedChannelOptions(Math.Max(1, options.Capacity))
    {
        FullMode = BoundedChannelFullMode.Wait, // with TryWrite: a full channel refuses, so drops are counted here
        SingleReader = true,
        SingleWriter = false,
    });

    private readonly HashSet<DateOnly> _partitions = [];
    private long _accepted;
    private long _dropped;
    private long _written;
    private long _failedBatches;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Dropped => Interlocked.Read(ref _dropped);

    public long Written => Interlocked.Read(ref _written);

    public long FailedBatches => Interlocked.Read(ref _failedBatches);

    /// <summary>Entries waiting to be written.</summary>
    public int Pending => _channel.Reader.Count;

    /// <summary>Queues an entry without waiting; false (and counted) when the channel is full or closed.</summary>
    public bool TryWrite(in RequestLogEntry entry)
    {
        if (!options.Enabled)
            return false;
        if (_channel.Writer.TryWrite(entry))
        {
            Interlocked.Increment(ref _accepted);
            return true;
        }

        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>No more entries: <see cref="RunAsync"/> drains the rest and returns.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    /// <summary>The write loop. Returns when the channel is completed and drained, or when <paramref name="abort"/> fires.</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        var batch = new List<RequestLogEntry>(options.BatchSize);
        var reader = _channel.Reader;
        var failures = 0;
        while (true)
        {
            if (batch.Count == 0)
            {
                if (!await reader.WaitToReadAsync(abort))
                    return;
                using var window = CancellationTokenSource.CreateLinkedTokenSource(abort);
                window.CancelAfter(options.FlushInterval);
                try
                {
                    while (batch.Count < options.BatchSize)
                    {
                        while (batch.Count < options.BatchSize && reader.TryRead(out var entry))
                            batch.Add(entry);
                        if (batch.Count >= options.BatchSize || !await reader.WaitToReadAsync(window.Token))
                            break;
                    }
                }
                catch (OperationCanceledException) when (!abort.IsCancellationRequested)
                {
                    // The flush interval is up: write what there is.
                }
            }

            try
            {
                await WriteBatchAsync(batch, abort);
                Interlocked.Add(ref _written, batch.Count);
                batch.Clear();
                failures = 0;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !abort.IsCancellationRequested))
            {
                Interlocked.Increment(ref _failedBatches);
                failures++;
                LogBatchFailed(logger, batch.Count, failures, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * (1 << Math.Min(failures, 7)))), time, abort);
            }
        }
    }

    /// <summary>Writes one batch by binary COPY, creating the days' partitions first if this process has not yet.</summary>
    internal async Task WriteBatchAsync(IReadOnlyList<RequestLogEntry> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
            return;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        foreach (var entry in batch)
        {
            var day = DateOnly.FromDateTime(entry.Timestamp.UtcDateTime);
            if (_partitions.Add(day))
            {
                try
                {
                    await EnsurePartitionAsync(connection, day, cancellationToken);
                }
                catch
                {
                    _partitions.Remove(day);
                    throw;
                }
            }
        }

        await using var import = await connection.BeginBinaryImportAsync(
            "copy request_log (ts, tenant_id, principal, ip, method, route, status, duration_ms, bytes_in, bytes_out, rate_limited, account) from stdin (format binary)",
            cancellationToken);
        foreach (var e in batch)
        {
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(e.Timestamp, NpgsqlDbType.TimestampTz, cancellationToken);
            await WriteNullableAsync(import, e.TenantId, NpgsqlDbType.Text, cancellationToken);
            await WriteNullableAsync(import, e.Principal, NpgsqlDbType.Text, cancellationToken);
            if (e.Ip is null)
                await import.WriteNullAsync(cancellationToken);
            else
                await import.WriteAsync(e.Ip, NpgsqlDbType.Inet, cancellationToken);
            await import.WriteAsync(e.Method, NpgsqlDbType.Text, cancellationToken);
            await import.WriteAsync(e.Route, NpgsqlDbType.Text, cancellationToken);
            await import.WriteAsync((short)e.Status, NpgsqlDbType.Smallint, cancellationToken);
            await import.WriteAsync((float)e.DurationMs, NpgsqlDbType.Real, cancellationToken);
            await import.WriteAsync(e.BytesIn, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(e.BytesOut, NpgsqlDbType.Bigint, cancellationToken);
            await import.WriteAsync(e.RateLimited, NpgsqlDbType.Boolean, cancellationToken);
            await WriteNullableAsync(import, e.Account, NpgsqlDbType.Text, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }

    /// <summary>Creates a day's partition (and moves its rows out of the default partition).</summary>
    public static async Task EnsurePartitionAsync(NpgsqlConnection connection, DateOnly day, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("select sentinel_request_log_partition($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = day });
        await command.ExecuteScalarAsync(cancellationToken);
    }

    private static Task WriteNullableAsync(NpgsqlBinaryImporter import, string? value, NpgsqlDbType type, CancellationToken cancellationToken) =>
        value is null ? import.WriteNullAsync(cancellationToken) : import.WriteAsync(value, type, cancellationToken);

    [LoggerMessage(EventId = 5200, Level = LogLevel.Warning, Message = "Request log batch of {Count} not written (attempt {Attempt}), kept for retry: {Error}")]
    private static partial void LogBatchFailed(ILogger logger, int count, int attempt, string error);
}
