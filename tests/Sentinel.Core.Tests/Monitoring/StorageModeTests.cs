namespace Sentinel.Core.Tests.Monitoring;

/// <summary>
/// Which storage the migration chose, and the same ingest → roll-up → retention scenario on it. TimescaleDB is not
/// packaged for this machine: with <c>SENTINEL_TEST_TIMESCALE=1</c> (a server that has it) this test requires hypertables
/// and fails if the extension is missing; without it, it requires the native partitions. It runs either way.
/// </summary>
public sealed class StorageModeTests : IAsyncLifetime
{
    private MonitoringFixture _f = null!;

    public async Task InitializeAsync() => _f = await MonitoringFixture.CreateAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    [Fact]
    public async Task StorageMode_MatchesTheServer_AndIngestRollupRetentionWorkOnIt()
    {
        var wantTimescale = Environment.GetEnvironmentVariable("SENTINEL_TEST_TIMESCALE") == "1";
        var offered = await _f.CountAsync("select count(*) from pg_available_extensions where name = 'timescaledb'") > 0;
        if (wantTimescale)
            Assert.True(offered, "SENTINEL_TEST_TIMESCALE=1 but this PostgreSQL server does not offer the timescaledb extension");
        var timescale = await _f.Storage.IsTimescaleAsync(CancellationToken.None);
        Assert.Equal(wantTimescale, timescale);
        if (timescale)
        {
            Assert.Equal(3, await _f.CountAsync(
                "select count(*) from timescaledb_information.hypertables where hypertable_name in ('metric_samples', 'metric_rollup_1m', 'metric_rollup_1h')"));
        }
        else
        {
            Assert.Equal(3, await _f.CountAsync(
                "select count(*) from pg_partitioned_table where partrelid in ('metric_samples'::regclass, 'metric_rollup_1m'::regclass, 'metric_rollup_1h'::regclass)"));
        }

        var agent = await _f.RegisterAsync("t1", "web-1");
        var old = MonitoringFixture.Start;
        foreach (var (seq, at) in new[] { (1L, old), (2L, old.AddDays(31)) })
        {
            _f.Clock.Set(at);
            var body = MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, seq, at, ("cpu.usage", seq, [("core", "total")])));
            Assert.Equal(1, (await _f.IngestAsync(_f.Signed(agent, body, "0/" + seq))).Stored);
        }

        Assert.Equal(2, (await _f.Rollups.RunAsync(CancellationToken.None)).Minutes);
        var report = await _f.Retention.RunAsync(CancellationToken.None);

        Assert.NotEmpty(report.Dropped); // the first day's partition, or its chunk
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_samples"));
        Assert.Equal(2, await _f.CountAsync("select count(*) from metric_rollup_1m"));
        var query = await _f.Queries.RangeAsync("t1", "cpu.usage", null, [], old.AddDays(31).AddMinutes(-5), old.AddDays(31).AddMinutes(5), 60, "max", CancellationToken.None);
        Assert.Equal(2.0, Assert.Single(Assert.Single(query.Value!.Series).Points).Value);
    }
}
