using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Sentinel.Core.RequestLog;
using Sentinel.Core.Storage;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.RequestLog;

/// <summary>The request log against a real, migrated PostgreSQL database of its own.</summary>
public sealed class RequestLogTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Day = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
    private TestDatabase _db = null!;

    public async Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync();
        await new PostgresMigrator(_db.DataSource, NullLogger<PostgresMigrator>.Instance).MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private RequestLogWriter Writer(RequestLogOptions? options = null, NpgsqlDataSource? dataSource = null) =>
        new(dataSource ?? _db.DataSource, options ?? new RequestLogOptions(), TimeProvider.System, NullLogger<RequestLogWriter>.Instance);

    private static RequestLogEntry Entry(DateTimeOffset ts, string tenant = "tenant-a", int status = 200, string route = "/api/users", double ms = 5, string ip = "10.0.0.1", bool limited = false) =>
        new(ts, tenant, "user:u1", IPAddress.Parse(ip), "GET", route, status, ms, 10, 200, limited);

    [Fact]
    public async Task TenThousandEntries_AreAllWritten_InBatches_AndInTheDaysPartition()
    {
        var writer = Writer(new RequestLogOptions { Capacity = 20_000, BatchSize = 1_000, FlushInterval = TimeSpan.FromMilliseconds(200) });
        var run = writer.RunAsync(CancellationToken.None);

        Parallel.For(0, 10_000, i => Assert.True(writer.TryWrite(Entry(Day.AddSeconds(i % 3600)))));
        writer.Complete();
        await run;

        Assert.Equal(10_000, writer.Accepted);
        Assert.Equal(0, writer.Dropped);
        Assert.Equal(10_000, writer.Written);
        Assert.Equal(10_000, await _db.ScalarAsync("select count(*) from request_log"));
        Assert.Equal(10_000, await _db.ScalarAsync("select count(*) from request_log_p20261122"));
        Assert.Equal(0, await _db.ScalarAsync("select count(*) from request_log_default"));
    }

    [Fact]
    public async Task FlushInterval_WritesAPartialBatchWithoutWaitingForMore()
    {
        var writer = Writer(new RequestLogOptions { BatchSize = 1_000, FlushInterval = TimeSpan.FromMilliseconds(100) });
        using var stop = new CancellationTokenSource();
        var run = writer.RunAsync(stop.Token);

        writer.TryWrite(Entry(Day));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (writer.Written == 0 && sw.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(20);

        Assert.Equal(1, writer.Written);
        writer.Complete();
        await run;
    }

    [Fact]
    public async Task FullChannel_DropsAndCounts_NothingAcceptedIsLostWhenTheDatabaseReturns()
    {
        // The database is unreachable: nothing drains, so the channel fills and further entries are dropped.
        var port = TestServers.ClosedPort().Split(':')[1];
        await using var down = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Username=x;Password=x;Database=x;Timeout=1");
        var writer = Writer(new RequestLogOptions { Capacity = 100, BatchSize = 50, FlushInterval = TimeSpan.FromMilliseconds(50) }, down);
        for (var i = 0; i < 150; i++)
            writer.TryWrite(Entry(Day.AddMilliseconds(i)));

        Assert.Equal(100, writer.Accepted);
        Assert.Equal(50, writer.Dropped);

        // Draining those 100 into the real database loses none (the same entries, a working writer).
        var good = Writer(new RequestLogOptions { Capacity = 100, BatchSize = 50 });
        for (var i = 0; i < 100; i++)
            good.TryWrite(Entry(Day.AddMilliseconds(i)));
        good.Complete();
        await good.RunAsync(CancellationToken.None);
        Assert.Equal(100, await _db.ScalarAsync("select count(*) from request_log"));
    }

    [Fact]
    public async Task FailedBatch_IsRetried_NotDropped()
    {
        var builder = new NpgsqlConnectionStringBuilder(_db.ConnectionString) { Timeout = 2 };
        await using var flaky = NpgsqlDataSource.Create(builder.ConnectionString);
        var writer = Writer(new RequestLogOptions { BatchSize = 10, FlushInterval = TimeSpan.FromMilliseconds(50) }, flaky);
        await using (var revoke = _db.DataSource.CreateCommand("alter table request_log rename to request_log_away"))
            await revoke.ExecuteNonQueryAsync();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = writer.RunAsync(stop.Token);
        for (var i = 0; i < 10; i++)
            writer.TryWrite(Entry(Day.AddSeconds(i)));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (writer.FailedBatches == 0 && sw.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(20);

        await using (var restore = _db.DataSource.CreateCommand("alter table request_log_away rename to request_log"))
            await restore.ExecuteNonQueryAsync();
        writer.Complete();
        await run;

        Assert.True(writer.FailedBatches >= 1);
        Assert.Equal(10, writer.Written);
        Assert.Equal(10, await _db.ScalarAsync("select count(*) from request_log"));
    }

    [Fact]
    public async Task Partition_CreatedLate_TakesTheRowsTheDefaultPartitionHeld()
    {
        await using (var insert = _db.DataSource.CreateCommand(
            "insert into request_log values ('2026-12-01T10:00:00Z', 't', null, null, 'GET', '/api/x', 200, 1, 0, 0, false)"))
            await insert.ExecuteNonQueryAsync();
        Assert.Equal(1, await _db.ScalarAsync("select count(*) from request_log_default"));

        await using var connection = await _db.DataSource.OpenConnectionAsync();
        await RequestLogWriter.EnsurePartitionAsync(connection, new DateOnly(2026, 12, 1), CancellationToken.None);
        await RequestLogWriter.EnsurePartitionAsync(connection, new DateOnly(2026, 12, 1), CancellationToken.None);

        Assert.Equal(0, await _db.ScalarAsync("select count(*) from request_log_default"));
        Assert.Equal(1, await _db.ScalarAsync("select count(*) from request_log_p20261201"));
    }

    [Fact]
    public async Task Retention_CreatesComingDays_DropsWholeOldPartitions_PurgesOldDefaultRows()
    {
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        {
            foreach (var day in new[] { new DateOnly(2026, 10, 1), new DateOnly(2026, 10, 22), new DateOnly(2026, 10, 23), new DateOnly(2026, 11, 21) })
                await RequestLogWriter.EnsurePartitionAsync(connection, day, CancellationToken.None);
        }

        await using (var insert = _db.DataSource.CreateCommand(
            "insert into request_log values " +
            "('2026-10-01T10:00:00Z', 't', null, null, 'GET', '/a', 200, 1, 0, 0, false), " +
            "('2026-10-23T00:00:00Z', 't', null, null, 'GET', '/a', 200, 1, 0, 0, false), " +
            "('2026-11-21T10:00:00Z', 't', null, null, 'GET', '/a', 200, 1, 0, 0, false), " +
            "('2026-09-01T10:00:00Z', 't', null, null, 'GET', '/a', 200, 1, 0, 0, false), " +
            "('2026-11-01T10:00:00Z', 't', null, null, 'GET', '/a', 200, 1, 0, 0, false)"))
            await insert.ExecuteNonQueryAsync();
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));
        var retention = new RequestLogRetention(_db.DataSource, clock);

        var report = await retention.RunAsync(TimeSpan.FromDays(30), CancellationToken.None);
        var again = await retention.RunAsync(TimeSpan.FromDays(30), CancellationToken.None);

        // 30 days before 2026-11-22T10:00 is 2026-10-23T10:00: the 22nd is wholly past, the 23rd is not.
        Assert.Equal(["request_log_p20261001", "request_log_p20261022"], report.Dropped);
        Assert.Equal(["request_log_p20261122", "request_log_p20261123", "request_log_p20261124"], report.Created);
        Assert.Equal(1, report.DefaultRowsDeleted); // 2026-09-01 sat in the default partition
        Assert.Empty(again.Dropped);
        Assert.Empty(again.Created);
        Assert.Equal(3, await _db.ScalarAsync("select count(*) from request_log"));
        Assert.Equal(0, await _db.ScalarAsync("select count(*) from pg_class where relname in ('request_log_p20261001', 'request_log_p20261022')"));
    }

    [Fact]
    public async Task Stats_CountsStatusClassesPercentilesTopRoutesAndIps_ForOneTenantOnly()
    {
        var clock = new ManualClock(Day.AddMinutes(10));
        var writer = Writer();
        var entries = new List<RequestLogEntry>();
        for (var i = 0; i < 100; i++)
            entries.Add(Entry(Day.AddMinutes(1).AddSeconds(i % 60), ms: i + 1, route: i < 70 ? "/api/users" : "/api/keys", ip: i < 90 ? "10.0.0.1" : "10.0.0.2"));
        entries.Add(Entry(Day.AddMinutes(2), status: 429, limited: true, ip: "10.0.0.9"));
        entries.Add(Entry(Day.AddMinutes(2), status: 503));
        entries.Add(Entry(Day.AddMinutes(2), status: 404));
        entries.Add(Entry(Day.AddMinutes(2), tenant: "tenant-b", status: 500));
        await writer.WriteBatchAsync(entries, CancellationToken.None);
        var stats = new GatewayStats(_db.DataSource, clock);

        var report = await stats.QueryAsync("tenant-a", TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1), CancellationToken.None);

        Assert.Equal(103, report.Totals.Requests);
        Assert.Equal((100L, 0L, 2L, 1L, 1L), (report.Totals.Status2xx, report.Totals.Status3xx, report.Totals.Status4xx, report.Totals.Status5xx, report.Totals.RateLimited));
        Assert.Equal(10, report.Series.Count);
        Assert.Equal(100, report.Series.Single(b => b.Time == Day.AddMinutes(1)).Requests);
        Assert.Equal(3, report.Series.Single(b => b.Time == Day.AddMinutes(2)).Requests);
        Assert.Equal(0, report.Series.Single(b => b.Time == Day.AddMinutes(5)).Requests);
        var minute1 = report.Series.Single(b => b.Time == Day.AddMinutes(1));
        Assert.Equal(50.5, minute1.P50Ms);
        Assert.Equal(95.05, minute1.P95Ms);
        Assert.Equal(("GET", "/api/users", 73L), (report.TopRoutes[0].Method, report.TopRoutes[0].Route, report.TopRoutes[0].Requests));
        Assert.Equal(("10.0.0.1", 92L), (report.TopIps[0].Ip, report.TopIps[0].Requests));
        Assert.Equal(1, report.TopIps.Single(c => c.Ip == "10.0.0.9").RateLimited);
        Assert.Equal(10.3, report.Totals.RequestsPerMinute);
    }

    [Theory]
    [InlineData("1h", "1m", true)]
    [InlineData("7d", "10m", true)]
    [InlineData("8d", "1h", false)]
    [InlineData("1h", "5s", false)]
    [InlineData("1d", "30s", false)]
    [InlineData("1m", "1h", false)]
    public void Stats_WindowAndStep_AreBounded(string window, string step, bool ok)
    {
        Assert.True(GatewayStats.TryParseDuration(window, out var w));
        Assert.True(GatewayStats.TryParseDuration(step, out var s));
        Assert.Equal(ok, GatewayStats.Validate(w, s) is null);
    }

    [Theory]
    [InlineData("")]
    [InlineData("h")]
    [InlineData("10")]
    [InlineData("-1h")]
    [InlineData("1w")]
    [InlineData("1 h")]
    [InlineData("99999999999d")]
    public void Stats_BadDurations_DoNotParse(string value) => Assert.False(GatewayStats.TryParseDuration(value, out _));
}
