using Npgsql;

namespace Sentinel.Core.Monitoring;

/// <summary>What one roll-up run did.</summary>
internal sealed record RollupReport(int Batches, int Minutes, int Hours, long MinuteRows, long HourRows);

/// <summary>
/// Keeps <c>metric_rollup_1m</c> and <c>metric_rollup_1h</c> (min, max, sum, count, last) incrementally. The batch
/// ledger says what is new: every batch not yet rolled up marks its minute dirty, and each dirty minute is recomputed
/// whole from the raw samples, each dirty hour from its minutes — so late batches (an agent's spool after an outage)
/// and re-runs give the same rows. One instance at a time (advisory lock); bounded work per run.
/// </summary>
internal sealed class MetricRollups(NpgsqlDataSource dataSource, MetricStorage storage)
{
    /// <summary>Ledger rows taken per round; a run does rounds until none are left or <see cref="RunBudget"/> is spent.</summary>
    public const int BatchesPerRound = 20_000;
    public static readonly TimeSpan RunBudget = TimeSpan.FromSeconds(40);

    public async Task<RollupReport> RunAsync(CancellationToken cancellationToken)
    {
        var total = new RollupReport(0, 0, 0, 0, 0);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (System.Diagnostics.Stopwatch.GetElapsedTime(started) < RunBudget)
        {
            var round = await RoundAsync(cancellationToken);
            if (round is null)
                break; // another instance holds the lock
            total = new RollupReport(total.Batches + round.Batches, total.Minutes + round.Minutes, total.Hours + round.Hours,
                total.MinuteRows + round.MinuteRows, total.HourRows + round.HourRows);
            if (round.Batches < BatchesPerRound)
                break;
        }

        return total;
    }

    private async Task<RollupReport?> RoundAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("select pg_try_advisory_xact_lock(hashtext('sentinel_metric_rollups'))", connection, tx))
        {
            if (!(bool)(await lockCommand.ExecuteScalarAsync(cancellationToken))!)
                return null;
        }

        var minutes = new List<DateTimeOffset>();
        int batches;
        await using (var take = new NpgsqlCommand($"""
            with taken as (
                update metric_batches set rolled_up = true
                where (agent_id, seq) in (select agent_id, seq from metric_batches where not rolled_up limit {BatchesPerRound})
                returning collected_at
            )
            select date_bin('1 minute', collected_at, timestamptz '1970-01-01 00:00:00+00') as minute, count(*)
            from taken group by 1 order by 1
            """, connection, tx))
        {
            batches = 0;
            await using var reader = await take.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                minutes.Add(reader.GetFieldValue<DateTimeOffset>(0));
                batches += (int)reader.GetInt64(1);
            }
        }

        if (minutes.Count == 0)
        {
            await tx.CommitAsync(cancellationToken);
            return new RollupReport(0, 0, 0, 0, 0);
        }

        var hours = minutes.Select(m => new DateTimeOffset(m.UtcDateTime.Date.AddHours(m.UtcDateTime.Hour), TimeSpan.Zero)).Distinct().ToArray();
        await storage.EnsurePartitionsAsync(MetricStorage.Rollup1m, minutes, cancellationToken);
        await storage.EnsurePartitionsAsync(MetricStorage.Rollup1h, hours, cancellationToken);

        var minuteRows = await RecomputeAsync(connection, tx, MinutesFromSamples, minutes, TimeSpan.FromMinutes(1), cancellationToken);
        var hourRows = await RecomputeAsync(connection, tx, HoursFromMinutes, hours, TimeSpan.FromHours(1), cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new RollupReport(batches, minutes.Count, hours.Length, minuteRows, hourRows);
    }

    private const string MinutesFromSamples = """
        insert into metric_rollup_1m (series_id, bucket, min, max, sum, count, last)
        select series_id, date_bin('1 minute', ts, timestamptz '1970-01-01 00:00:00+00'), min(value), max(value), sum(value), count(*),
               (array_agg(value order by ts desc))[1]
        from metric_samples where ts >= $1 and ts < $2
        group by 1, 2
        """;

    private const string HoursFromMinutes = """
        insert into metric_rollup_1h (series_id, bucket, min, max, sum, count, last)
        select series_id, date_bin('1 hour', bucket, timestamptz '1970-01-01 00:00:00+00'), min(min), max(max), sum(sum), sum(count),
               (array_agg(last order by bucket desc))[1]
        from metric_rollup_1m where bucket >= $1 and bucket < $2
        group by 1, 2
        """;

    /// <summary>
    /// Recomputes whole buckets with one range scan per contiguous run of dirty buckets: the current minute and a late
    /// spool's old ones are two short scans, not one scan of everything between them.
    /// </summary>
    private static async Task<long> RecomputeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string insertSelect,
        IEnumerable<DateTimeOffset> buckets, TimeSpan width, CancellationToken cancellationToken)
    {
        long rows = 0;
        foreach (var (from, to) in Runs(buckets, width))
        {
            await using var command = new NpgsqlCommand(insertSelect + "\n" + """
                on conflict (series_id, bucket) do update
                  set min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count, last = excluded.last
                """, connection, tx);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = from });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = to });
            rows += await command.ExecuteNonQueryAsync(cancellationToken);
        }

        return rows;
    }

    /// <summary>Sorted bucket starts merged into [from, to) ranges of adjacent buckets.</summary>
    internal static List<(DateTimeOffset From, DateTimeOffset To)> Runs(IEnumerable<DateTimeOffset> starts, TimeSpan width)
    {
        var runs = new List<(DateTimeOffset From, DateTimeOffset To)>();
        foreach (var start in starts.Distinct().Order())
        {
            if (runs.Count > 0 && runs[^1].To == start)
                runs[^1] = (runs[^1].From, start + width);
            else
                runs.Add((start, start + width));
        }

        return runs;
    }
}
