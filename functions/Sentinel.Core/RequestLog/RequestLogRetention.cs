using System.Globalization;
using Npgsql;

namespace Sentinel.Core.RequestLog;

/// <summary>What one retention pass did.</summary>
internal sealed record RetentionReport(IReadOnlyList<string> Created, IReadOnlyList<string> Dropped, long DefaultRowsDeleted);

/// <summary>
/// Keeps <c>request_log</c>'s day partitions: creates today's and the next two days' ahead of time (so rows never land
/// in the default partition), drops whole partitions older than the retention (no row-by-row deletes, no bloat), and
/// deletes what the default partition holds past it. Run by the hourly <c>retention</c> timer.
/// </summary>
internal sealed class RequestLogRetention(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const int DaysAhead = 2;

    public async Task<RetentionReport> RunAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retention, TimeSpan.FromDays(1));
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        // The oldest day kept: a partition is dropped only when all of its day is past the retention.
        var oldestKept = DateOnly.FromDateTime((time.GetUtcNow() - retention).UtcDateTime);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);

        var existing = new HashSet<string>(StringComparer.Ordinal);
        await using (var list = new NpgsqlCommand("""
            select c.relname from pg_inherits i
            join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
            where p.relname = 'request_log' and c.relname ~ '^request_log_p[0-9]{8}$'
            """, connection))
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                existing.Add(reader.GetString(0));
        }

        var created = new List<string>();
        for (var day = today; day <= today.AddDays(DaysAhead); day = day.AddDays(1))
        {
            var name = PartitionName(day);
            if (existing.Contains(name))
                continue;
            await RequestLogWriter.EnsurePartitionAsync(connection, day, cancellationToken);
            created.Add(name);
        }

        var dropped = new List<string>();
        foreach (var name in existing.Order(StringComparer.Ordinal))
        {
            var day = DateOnly.ParseExact(name["request_log_p".Length..], "yyyyMMdd", CultureInfo.InvariantCulture);
            if (day >= oldestKept)
                continue;
            // The name comes from the catalogue and matched ^request_log_p[0-9]{8}$: safe to splice as an identifier.
            await using var drop = new NpgsqlCommand($"drop table if exists {name}", connection);
            await drop.ExecuteNonQueryAsync(cancellationToken);
            dropped.Add(name);
        }

        await using var purge = new NpgsqlCommand("delete from request_log_default where ts < $1", connection);
        purge.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = new DateTimeOffset(oldestKept.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) });
        var deleted = await purge.ExecuteNonQueryAsync(cancellationToken);
        return new RetentionReport(created, dropped, deleted);
    }

    public static string PartitionName(DateOnly day) => "request_log_p" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);
}
