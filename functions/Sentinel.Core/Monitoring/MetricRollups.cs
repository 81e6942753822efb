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

        long minuteRows, hourRows;
        await using (var rollMinutes = new NpgsqlCommand("""
            insert into metric_rollup_1m (series_id, bucket, min, max, sum, count, last)
            select m.series_id, d.b, min(m.value), max(m.value), sum(m.value), count(*), (array_agg(m.value order by m.ts desc))[1]
            from unnest($1::timestamptz[]) as d(b)
            join metric_samples m on m.ts >= d.b and m.ts < d.b + interval '1 minute'
            where m.ts >= $2 and m.ts < $3
            group by m.series_id, d.b
            on conflict (series_id, bucket) do update
              set min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count, last = excluded.last
            """, connection, tx))
        {
            rollMinutes.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = minutes.ToArray() });
            rollMinutes.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = minutes[0] });
            rollMinutes.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = minutes[^1].AddMinutes(1) });
            minuteRows = await rollMinutes.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var rollHours = new NpgsqlCommand("""
            insert into metric_rollup_1h (series_id, bucket, min, max, sum, count, last)
            select r.series_id, d.b, min(r.min), max(r.max), sum(r.sum), sum(r.count), (array_agg(r.last order by r.bucket desc))[1]
            from unnest($1::timestamptz[]) as d(b)
            join metric_rollup_1m r on r.bucket >= d.b and r.bucket < d.b + interval '1 hour'
            where r.bucket >= $2 and r.bucket < $3
            group by r.series_id, d.b
            on conflict (series_id, bucket) do update
              set min = excluded.min, max = excluded.max, sum = excluded.sum, count = excluded.count, last = excluded.last
            """, connection, tx))
        {
            rollHours.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = hours });
            rollHours.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = hours.Min() });
            rollHours.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = hours.Max().AddHours(1) });
            hourRows = await rollHours.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return new RollupReport(batches, minutes.Count, hours.Length, minuteRows, hourRows);
    }
}
