using System.Text;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Core.Tests.Monitoring;

/// <summary>Ingest against real PostgreSQL: stored once, every kind of bad batch rejected with nothing stored.</summary>
public sealed class MetricIngestTests : IAsyncLifetime
{
    private MonitoringFixture _f = null!;

    public async Task InitializeAsync() => _f = await MonitoringFixture.CreateAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    [Fact]
    public async Task ValidBatch_StoresSamplesSeriesLedgerAndAgentFacts()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var batch = MonitoringFixture.Batch(agent.Agent.Id, 1, MonitoringFixture.Start,
            ("cpu.usage", 12.5, [("core", "total")]), ("cpu.usage", 30, [("core", "0")]), ("mem.used", 1e9, []));

        var report = await _f.IngestAsync(_f.Signed(agent, MonitoringFixture.Body(batch), "0/1"));

        Assert.Equal((1, 0, 0, 3), (report.Stored, report.Duplicates, report.Rejected, report.Samples));
        Assert.Equal(3, await _f.CountAsync("select count(*) from metric_samples"));
        Assert.Equal(3, await _f.CountAsync("select count(*) from metric_series where tenant_id = 't1'"));
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_batches"));
        var stored = (await _f.Agents.GetAsync("t1", agent.Agent.Id, CancellationToken.None)).Value!;
        Assert.Equal(1, stored.LastSeq);
        Assert.Equal("web-1", stored.Host);
        Assert.Equal("1.0.0", stored.AgentVersion);
        Assert.Equal("Debian 12", stored.Facts["os"]);
        Assert.Equal(MonitoringFixture.Start, stored.LastSeen);
    }

    [Fact]
    public async Task SameBatchDeliveredThreeTimes_IsStoredOnce()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var e = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 7, MonitoringFixture.Start)), "2/41");

        var first = await _f.IngestAsync(e);
        var second = await _f.IngestAsync(e);            // the host redelivers the same event (same partition/sequence)
        _f.Clock.Advance(TimeSpan.FromSeconds(3));
        var resent = _f.Signed(agent, e.Body, "2/42");    // the agent re-sends it after a timeout: signed afresh, a new event
        var third = await _f.IngestAsync(resent);

        Assert.Equal(1, first.Stored);
        Assert.Equal((0, 1, 0), (second.Stored, second.Duplicates, second.Rejected));
        Assert.Equal((0, 1, 0), (third.Stored, third.Duplicates, third.Rejected));
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_samples"));
        Assert.Equal(0, await _f.CountAsync("select count(*) from rejected_events"));
    }

    [Fact]
    public async Task SameBatchTwiceInOneInvocation_IsStoredOnce()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var body = MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 3, MonitoringFixture.Start));

        var report = await _f.IngestAsync(_f.Signed(agent, body, "0/1"), _f.Signed(agent, body, "0/2"));

        Assert.Equal((1, 1), (report.Stored, report.Duplicates));
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_samples"));
    }

    [Fact]
    public async Task ForgedReplayedStaleMalformedAndUnsigned_AreRecordedAndNothingIsStored()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var other = await _f.RegisterAsync("t1", "web-2");
        var stored = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 1, MonitoringFixture.Start)), "0/1");
        Assert.Equal(1, (await _f.IngestAsync(stored)).Stored);

        var body2 = MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 2, MonitoringFixture.Start));
        var forged = _f.Signed(agent, body2, "0/2", key: other.Key);                                   // someone else's key
        var tampered = _f.Signed(agent, body2, "0/3") with { Body = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body2).Replace("12.5", "99.5", StringComparison.Ordinal)) };
        var replayed = stored with { Source = "1/77" };                                                   // captured bytes as a new event
        var stale = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 3, MonitoringFixture.Start)), "0/4",
            signedAt: MonitoringFixture.Start - TimeSpan.FromMinutes(6));
        var future = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 4, MonitoringFixture.Start)), "0/5",
            signedAt: MonitoringFixture.Start + TimeSpan.FromMinutes(6));
        var malformed = _f.Signed(agent, "{\"v\":1,\"agent\":"u8.ToArray(), "0/6");
        var invalid = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 5, MonitoringFixture.Start, ("CPU Usage!", 1, []))), "0/7");
        var unsigned = stored with { Signature = null, Source = "0/8" };
        var unknown = stored with { Agent = "nosuchagent00000", Source = "0/9" };
        var wrongVersion = _f.Signed(agent, body2, "0/10", version: 2);

        var report = await _f.IngestAsync(forged, tampered, replayed, stale, future, malformed, invalid, unsigned, unknown, wrongVersion);

        Assert.Equal((0, 10), (report.Stored, report.Rejected));
        var reasons = await _f.RejectionsAsync();
        Assert.Equal(10, reasons.Count);
        Assert.Equal(2, reasons.Count(r => r.StartsWith("forged", StringComparison.Ordinal)));
        Assert.Contains(reasons, r => r.StartsWith("replayed", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("stale", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("from the future", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("malformed", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("invalid", StringComparison.Ordinal) && r.Contains("name", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("unsigned", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("unknown agent", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("key version 2", StringComparison.Ordinal));
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_samples"));
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_batches"));
        Assert.Equal(8, await _f.CountAsync("select count(*) from rejected_events where tenant_id = 't1'"));
        Assert.Equal(2, await _f.CountAsync("select count(*) from rejected_events where tenant_id is null")); // unsigned, unknown agent
    }

    [Fact]
    public async Task ValidAndInvalidInOneInvocation_ValidStoredInvalidRecorded()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var good = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 1, MonitoringFixture.Start)), "0/1");
        var bad = good with { Signature = AgentSignature.SchemePrefix + Convert.ToBase64String(new byte[32]), Source = "0/2" };

        var report = await _f.IngestAsync(good, bad);

        Assert.Equal((1, 1), (report.Stored, report.Rejected));
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_samples"));
    }

    [Fact]
    public async Task Rotation_PreviousVersionWorksThroughTheGraceOnly_RevocationStopsAll()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var rotated = (await _f.Agents.RotateAsync("t1", agent.Agent.Id, CancellationToken.None)).Value!;
        Assert.Equal(2, rotated.Agent.KeyVersion);
        Assert.NotEqual(agent.Key, rotated.Key);

        var oldKey = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 1, _f.Clock.GetUtcNow())), "0/1");
        var newKey = _f.Signed(rotated, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 2, _f.Clock.GetUtcNow())), "0/2");
        Assert.Equal(2, (await _f.IngestAsync(oldKey, newKey)).Stored);

        _f.Clock.Advance(_f.Options.KeyRotationGrace + TimeSpan.FromMinutes(1));
        var late = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 3, _f.Clock.GetUtcNow())), "0/3");
        Assert.Equal(1, (await _f.IngestAsync(late)).Rejected);

        await _f.Agents.RevokeAsync("t1", agent.Agent.Id, CancellationToken.None);
        var afterRevoke = _f.Signed(rotated, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 4, _f.Clock.GetUtcNow())), "0/4");
        Assert.Equal(1, (await _f.IngestAsync(afterRevoke)).Rejected);
        Assert.Contains(await _f.RejectionsAsync(), r => r.Contains("revoked", StringComparison.Ordinal));
        Assert.Equal(2, await _f.CountAsync("select count(*) from metric_batches"));
    }

    [Fact]
    public async Task BacklogReadLate_IsJudgedByEnqueuedTimeNotNow()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var e = _f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 1, _f.Clock.GetUtcNow())), "0/1");
        _f.Clock.Advance(TimeSpan.FromHours(3)); // the function was down; Event Hubs kept the event

        Assert.Equal(1, (await _f.IngestAsync(e)).Stored);
    }

    [Fact]
    public async Task Registry_NamesAreUniquePerTenantAndScoped()
    {
        var a = await _f.RegisterAsync("t1", "web-1");
        var again = await _f.Agents.RegisterAsync(MonitoringFixture.Admin("t1"), "web-1", CancellationToken.None);
        var otherTenant = await _f.Agents.RegisterAsync(MonitoringFixture.Admin("t2"), "web-1", CancellationToken.None);
        var empty = await _f.Agents.RegisterAsync(MonitoringFixture.Admin("t1"), "  ", CancellationToken.None);

        Assert.Equal("agent-name-taken", again.Failure!.Slug);
        Assert.True(otherTenant.Succeeded);
        Assert.Equal("validation-failed", empty.Failure!.Slug);
        Assert.False((await _f.Agents.GetAsync("t2", a.Agent.Id, CancellationToken.None)).Succeeded);
        Assert.False((await _f.Agents.RotateAsync("t2", a.Agent.Id, CancellationToken.None)).Succeeded);
        Assert.Single(await _f.Agents.ListAsync("t2", CancellationToken.None));
    }

    [Fact]
    public async Task Reader_SameSeriesInAnotherLabelOrder_UnknownFieldsIgnored_CachedSeriesStillChecked()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var id = agent.Agent.Id;
        var t = MonitoringFixture.Start.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        byte[] Body(long seq, string samples, string extra = "") =>
            Encoding.UTF8.GetBytes($$"""{"v":1,"agent":"{{id}}","seq":{{seq}},"host":"h","time":"{{t}}","interval":10{{extra}},"samples":[{{samples}}]}""");

        var first = await _f.IngestAsync(_f.Signed(agent, Body(1, """{"name":"fs.used","labels":{"mount":"/","device":"sda1"},"value":1}"""), "0/1"));
        var reordered = await _f.IngestAsync(_f.Signed(agent, Body(2, """{"value":2,"labels":{"device":"sda1","mount":"/"},"name":"fs.used","unit":"bytes"}""", ""","future":{"x":[1,2]}"""), "0/2"));
        var cachedThenBad = await _f.IngestAsync(_f.Signed(agent, Body(3, """{"name":"fs.used","labels":{"mount":"/","device":"sda1"},"value":"lots"}"""), "0/3"));
        var cachedThenMissing = await _f.IngestAsync(_f.Signed(agent, Body(4, """{"name":"fs.used","labels":{"mount":"/","device":"sda1"}}"""), "0/4"));
        var trailing = await _f.IngestAsync(_f.Signed(agent, [.. Body(5, """{"name":"fs.used","value":1}"""), .. "{}"u8.ToArray()], "0/5"));

        Assert.Equal((1, 1, 0, 0, 0), (first.Stored, reordered.Stored, cachedThenBad.Stored, cachedThenMissing.Stored, trailing.Stored));
        Assert.Equal(1, await _f.CountAsync("select count(*) from metric_series where name = 'fs.used'"));
        Assert.Equal(2, await _f.CountAsync("select count(*) from metric_samples"));
        var reasons = await _f.RejectionsAsync();
        Assert.Equal(3, reasons.Count);
        Assert.StartsWith("malformed", reasons[0], StringComparison.Ordinal);
        Assert.StartsWith("invalid", reasons[1], StringComparison.Ordinal);
        Assert.StartsWith("malformed", reasons[2], StringComparison.Ordinal);
    }
}
