using Sentinel.Core.Monitoring;

namespace Sentinel.Core.Tests.Monitoring;

/// <summary>Roll-ups, retention and range queries over real PostgreSQL.</summary>
public sealed class MetricStoreTests : IAsyncLifetime
{
    private MonitoringFixture _f = null!;

    public async Task InitializeAsync() => _f = await MonitoringFixture.CreateAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private async Task StoreAsync(AgentCredential agent, long seq, DateTimeOffset at, params (string, double, (string, string)[])[] samples)
    {
        _f.Clock.Set(at);
        var report = await _f.IngestAsync(_f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, seq, at, samples)), "0/" + seq));
        Assert.Equal(1, report.Stored);
    }

    [Fact]
    public async Task Rollups_MinMaxSumCountLast_PerMinuteAndHour_AndLateBatchesRecompute()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var t0 = MonitoringFixture.Start; // 10:00:00
        await StoreAsync(agent, 1, t0, ("cpu.usage", 10, [("core", "total")]));
        await StoreAsync(agent, 2, t0.AddSeconds(20), ("cpu.usage", 30, [("core", "total")]));
        await StoreAsync(agent, 3, t0.AddSeconds(40), ("cpu.usage", 20, [("core", "total")]));
        await StoreAsync(agent, 4, t0.AddMinutes(1), ("cpu.usage", 50, [("core", "total")]));

        var first = await _f.Rollups.RunAsync(CancellationToken.None);
        Assert.Equal((4, 2, 1), (first.Batches, first.Minutes, first.Hours));
        Assert.Equal((10.0, 30.0, 60.0, 3L, 20.0), await MinuteAsync(t0));
        Assert.Equal((10.0, 50.0, 110.0, 4L, 50.0), await HourAsync(t0));

        // An agent's spool delivers an old sample late: its minute and hour are recomputed whole.
        await StoreAsync(agent, 5, t0.AddSeconds(50), ("cpu.usage", 5, [("core", "total")]));
        _f.Clock.Set(t0.AddMinutes(5));
        var second = await _f.Rollups.RunAsync(CancellationToken.None);
        Assert.Equal((1, 1, 1), (second.Batches, second.Minutes, second.Hours));
        Assert.Equal((5.0, 30.0, 65.0, 4L, 5.0), await MinuteAsync(t0));
        Assert.Equal((5.0, 50.0, 115.0, 5L, 50.0), await HourAsync(t0));

        var idle = await _f.Rollups.RunAsync(CancellationToken.None);
        Assert.Equal(0, idle.Batches);
    }

    [Fact]
    public void DirtyMinutes_MergeIntoContiguousRuns()
    {
        var t = MonitoringFixture.Start;
        var runs = MetricRollups.Runs([t.AddMinutes(5), t, t.AddMinutes(1), t.AddMinutes(1), t.AddDays(-3)], TimeSpan.FromMinutes(1));
        Assert.Equal([(t.AddDays(-3), t.AddDays(-3).AddMinutes(1)), (t, t.AddMinutes(2)), (t.AddMinutes(5), t.AddMinutes(6))], runs);
    }

    private async Task<(double, double, double, long, double)> MinuteAsync(DateTimeOffset bucket) => await RollupAsync("metric_rollup_1m", bucket);

    private async Task<(double, double, double, long, double)> HourAsync(DateTimeOffset bucket) => await RollupAsync("metric_rollup_1h", bucket);

    private async Task<(double, double, double, long, double)> RollupAsync(string table, DateTimeOffset bucket)
    {
        await using var command = _f.Db.DataSource.CreateCommand($"select min, max, sum, count, last from {table} where bucket = $1");
        command.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = bucket });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"no {table} row at {bucket:O}");
        var row = (reader.GetDouble(0), reader.GetDouble(1), reader.GetDouble(2), (long)reader.GetInt32(3), reader.GetDouble(4));
        Assert.False(await reader.ReadAsync());
        return row;
    }

    [Fact]
    public async Task Retention_DropsOnlyWholeOldPartitions_AndCreatesTheComingOnes()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var old = MonitoringFixture.Start;
        await StoreAsync(agent, 1, old, ("cpu.usage", 1, []));
        await StoreAsync(agent, 2, old.AddDays(20), ("cpu.usage", 2, []));
        await StoreAsync(agent, 3, old.AddDays(31), ("cpu.usage", 3, []));
        await _f.Rollups.RunAsync(CancellationToken.None);

        await using (var rejected = _f.Db.DataSource.CreateCommand(
            "insert into rejected_events (function, source, reason, received_at) values ('ingest-metrics', 'old', 'forged', $1), ('ingest-metrics', 'new', 'forged', $2)"))
        {
            rejected.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = old });
            rejected.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = old.AddDays(30) });
            await rejected.ExecuteNonQueryAsync();
        }

        var report = await _f.Retention.RunAsync(CancellationToken.None); // now = old + 31 d: raw retention 30 d

        Assert.Equal(["metric_samples_p20261122"], report.Dropped);
        Assert.Equal([2.0, 3.0], await ValuesAsync());
        Assert.Contains("metric_samples_p20261224", report.Created);         // the day after tomorrow
        Assert.Contains("metric_rollup_1m_p202701", report.Created);          // next month
        Assert.Equal(3, await _f.CountAsync("select count(*) from metric_rollup_1m"));  // roll-ups keep 400 days
        Assert.Equal(1, report.LedgerRowsDeleted);
        Assert.Equal(1, report.RejectedEventsDeleted);
        Assert.Equal(1, await _f.CountAsync("select count(*) from rejected_events where source = 'new'"));

        var again = await _f.Retention.RunAsync(CancellationToken.None);
        Assert.Empty(again.Dropped);
        Assert.Empty(again.Created);
    }

    private async Task<List<double>> ValuesAsync()
    {
        await using var command = _f.Db.DataSource.CreateCommand("select value from metric_samples order by ts");
        var list = new List<double>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            list.Add(reader.GetDouble(0));
        return list;
    }

    [Fact]
    public async Task RangeQuery_PicksResolutionByRange_FiltersByMatchers_AndIsTenantScoped()
    {
        var web = await _f.RegisterAsync("t1", "web-1");
        var db = await _f.RegisterAsync("t1", "db-1");
        var foreign = await _f.RegisterAsync("t2", "web-1");
        var t0 = MonitoringFixture.Start;
        for (var i = 0; i < 12; i++)
        {
            await StoreAsync(web, i + 1, t0.AddSeconds(10 * i), ("cpu.usage", i, [("core", "total")]), ("cpu.usage", 100 + i, [("core", "0")]));
            await StoreAsync(db, i + 1, t0.AddSeconds(10 * i), ("cpu.usage", 50, [("core", "total")]));
            await StoreAsync(foreign, i + 1, t0.AddSeconds(10 * i), ("cpu.usage", 99, [("core", "total")]));
        }

        await _f.Rollups.RunAsync(CancellationToken.None);
        _f.Clock.Set(t0.AddMinutes(5));

        var raw = (await _f.Queries.RangeAsync("t1", "cpu.usage", web.Agent.Id, ["core=total"], t0, t0.AddMinutes(2), 60, "avg", CancellationToken.None)).Value!;
        Assert.Equal("raw", raw.Resolution);
        var series = Assert.Single(raw.Series);
        Assert.Equal([(t0.ToUnixTimeSeconds(), 2.5), (t0.AddMinutes(1).ToUnixTimeSeconds(), 8.5)], series.Points);

        var all = (await _f.Queries.RangeAsync("t1", "cpu.usage", null, ["core=~tot.*"], t0, t0.AddMinutes(2), 60, "max", CancellationToken.None)).Value!;
        Assert.Equal(2, all.Series.Count); // web and db, never the other tenant's
        Assert.DoesNotContain(all.Series, s => s.Series.AgentId == foreign.Agent.Id);

        var weekOutcome = await _f.Queries.RangeAsync("t1", "cpu.usage", web.Agent.Id, ["core!=0"], t0.AddDays(-1), t0.AddDays(1), 3600, "avg", CancellationToken.None);
        Assert.True(weekOutcome.Succeeded, weekOutcome.Failure?.Detail);
        var week = weekOutcome.Value!;
        Assert.Equal("1m", week.Resolution);
        Assert.Equal([(t0.ToUnixTimeSeconds(), 5.5)], Assert.Single(week.Series).Points);

        var monthOutcome = await _f.Queries.RangeAsync("t1", "cpu.usage", web.Agent.Id, ["core=0"], t0.AddDays(-20), t0.AddDays(10), null, "last", CancellationToken.None);
        Assert.True(monthOutcome.Succeeded, monthOutcome.Failure?.Detail);
        var month = monthOutcome.Value!;
        Assert.Equal("1h", month.Resolution);
        Assert.Equal(111, Assert.Single(Assert.Single(month.Series).Points).Value);

        var bad = await _f.Queries.RangeAsync("t1", "cpu.usage", null, ["core=~("], t0, t0.AddMinutes(2), 60, "avg", CancellationToken.None);
        Assert.Equal("validation-failed", bad.Failure!.Slug);
        var tooFine = await _f.Queries.RangeAsync("t1", "cpu.usage", null, [], t0.AddHours(-6), t0, 1, "avg", CancellationToken.None);
        Assert.Contains("points", tooFine.Failure!.Detail, StringComparison.Ordinal);
        Assert.False((await _f.Queries.RangeAsync("t1", "Bad Name", null, [], null, null, null, null, CancellationToken.None)).Succeeded);
        Assert.False((await _f.Queries.RangeAsync("t1", "cpu.usage", null, ["no-operator"], null, null, null, null, CancellationToken.None)).Succeeded);
        Assert.Empty((await _f.Queries.SeriesAsync("t3", "cpu.usage", null, [], 100, CancellationToken.None)).Value!);
        Assert.Equal(3, (await _f.Queries.SeriesAsync("t1", "cpu.usage", null, [], 100, CancellationToken.None)).Value!.Count);
    }
}
