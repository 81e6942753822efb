using System.Collections.Concurrent;
using Npgsql;

namespace Sentinel.Core.Monitoring;

/// <summary>
/// Where metrics live: native day/month partitions or TimescaleDB hypertables, decided by migration 0003 from what the
/// server offers and read back here once. Creates native partitions on demand, outside the caller's transaction (a new
/// partition locks its parent; holding that through an ingest would stall every other ingest and query).
/// </summary>
internal sealed class MetricStorage(NpgsqlDataSource dataSource)
{
    public const string Samples = "metric_samples";
    public const string Rollup1m = "metric_rollup_1m";
    public const string Rollup1h = "metric_rollup_1h";

    private readonly ConcurrentDictionary<(string Table, DateTime Start), bool> _known = new();
    private bool? _timescale;

    /// <summary>True when the metric tables are TimescaleDB hypertables.</summary>
    public async Task<bool> IsTimescaleAsync(CancellationToken cancellationToken)
    {
        if (_timescale is { } cached)
            return cached;
        await using var command = dataSource.CreateCommand(
            "select not exists (select 1 from pg_partitioned_table where partrelid = 'metric_samples'::regclass)");
        var value = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        _timescale = value;
        return value;
    }

    /// <summary>Makes sure the partitions covering these times exist (no-op on hypertables); returns the ones it created.</summary>
    public async Task<IReadOnlyList<string>> EnsurePartitionsAsync(string table, IEnumerable<DateTimeOffset> times, CancellationToken cancellationToken)
    {
        var created = new List<string>();
        if (await IsTimescaleAsync(cancellationToken))
            return created;
        var monthly = table != Samples;
        var missing = new List<DateTimeOffset>();
        foreach (var t in times)
        {
            var u = t.UtcDateTime;
            var start = monthly ? new DateTime(u.Year, u.Month, 1, 0, 0, 0, DateTimeKind.Utc) : u.Date;
            if (!_known.ContainsKey((table, start)) && !missing.Exists(m => m.UtcDateTime == start))
                missing.Add(new DateTimeOffset(start, TimeSpan.Zero));
        }

        foreach (var start in missing)
        {
            await using var command = dataSource.CreateCommand("select sentinel_metric_partition($1, $2)");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = start });
            if (await command.ExecuteScalarAsync(cancellationToken) is string name)
                created.Add(name);
            _known[(table, start.UtcDateTime)] = true;
        }

        return created;
    }

    /// <summary>Forgets the partitions it knows (after retention dropped some).</summary>
    public void Forget() => _known.Clear();

    /// <summary>
    /// The natively partitioned children of a table and where each ends, read from their names (as
    /// <c>sentinel_metric_partition</c> gives them: <c>{table}_pYYYYMMDD</c> for samples, <c>{table}_pYYYYMM</c> for roll-ups).
    /// Only names of that form are returned, so they are safe to splice as identifiers.
    /// </summary>
    public async Task<IReadOnlyList<(string Name, DateTimeOffset To)>> PartitionsAsync(string table, CancellationToken cancellationToken)
    {
        var monthly = table != Samples;
        await using var command = dataSource.CreateCommand("""
            select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = $1::regclass and c.relname ~ $2 order by c.relname
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $"^{table}_p[0-9]{{{(monthly ? 6 : 8)}}}$" });
        var list = new List<(string, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            var from = DateTimeOffset.ParseExact(name[(table.Length + 2)..], monthly ? "yyyyMM" : "yyyyMMdd",
                System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
            list.Add((name, monthly ? from.AddMonths(1) : from.AddDays(1)));
        }

        return list;
    }
}
