using Npgsql;

namespace Sentinel.Core.Monitoring;

/// <summary>What one retention run did.</summary>
internal sealed record MetricRetentionReport(IReadOnlyList<string> Created, IReadOnlyList<string> Dropped, long LedgerRowsDeleted, long RejectedEventsDeleted = 0);

/// <summary>
/// Metric retention: drops whole partitions (or, on TimescaleDB, chunks with <c>drop_chunks</c>, which the Apache-2
/// edition has) of raw samples past <see cref="MonitoringOptions.RawRetention"/> and of roll-ups past
/// <see cref="MonitoringOptions.RollupRetention"/>, deletes the batch ledger's old rows, and creates the coming
/// partitions ahead (samples: today and two days on; roll-ups: this month and the next), and purges <c>rejected_events</c>
/// past raw retention (a misbehaving agent must not grow it for ever). Never a row-by-row delete of samples.
/// </summary>
internal sealed class MetricRetention(NpgsqlDataSource dataSource, MetricStorage storage, MonitoringOptions options, TimeProvider time)
{
    public async Task<MetricRetentionReport> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var created = new List<string>();
        var dropped = new List<string>();
        var rawCutoff = now - options.RawRetention;
        var rollupCutoff = now - options.RollupRetention;
        (string Table, DateTimeOffset Cutoff)[] tables =
            [(MetricStorage.Samples, rawCutoff), (MetricStorage.Rollup1m, rollupCutoff), (MetricStorage.Rollup1h, rollupCutoff)];

        if (await storage.IsTimescaleAsync(cancellationToken))
        {
            foreach (var (table, cutoff) in tables)
            {
                await using var command = dataSource.CreateCommand("select drop_chunks($1::regclass, older_than => $2)::text");
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = cutoff });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                    dropped.Add(reader.GetString(0));
            }
        }
        else
        {
            foreach (var (table, cutoff) in tables)
            {
                foreach (var (name, to) in await storage.PartitionsAsync(table, cancellationToken))
                {
                    if (to > cutoff)
                        continue;
                    // One statement per partition: a failure leaves whole partitions, never a half-dropped one. The name
                    // matched {table}_p + digits in the catalogue: safe to splice.
                    await using var drop = dataSource.CreateCommand($"drop table if exists {name}");
                    await drop.ExecuteNonQueryAsync(cancellationToken);
                    dropped.Add(name);
                }
            }

            if (dropped.Count > 0)
                storage.Forget();
            created.AddRange(await storage.EnsurePartitionsAsync(MetricStorage.Samples, [now, now.AddDays(1), now.AddDays(2)], cancellationToken));
            var thisMonth = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
            foreach (var rollup in new[] { MetricStorage.Rollup1m, MetricStorage.Rollup1h })
                created.AddRange(await storage.EnsurePartitionsAsync(rollup, [thisMonth, thisMonth.AddMonths(1)], cancellationToken));
        }

        await using var ledger = dataSource.CreateCommand("delete from metric_batches where received_at < $1 and collected_at < $1");
        ledger.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = rawCutoff });
        var deleted = await ledger.ExecuteNonQueryAsync(cancellationToken);
        await using var rejected = dataSource.CreateCommand("delete from rejected_events where received_at < $1");
        rejected.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = rawCutoff });
        var rejectedDeleted = await rejected.ExecuteNonQueryAsync(cancellationToken);
        return new MetricRetentionReport(created, dropped, deleted, rejectedDeleted);
    }
}
