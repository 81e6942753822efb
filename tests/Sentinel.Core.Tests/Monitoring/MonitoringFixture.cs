using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Identity;
using Sentinel.Core.Monitoring;
using Sentinel.Core.Storage;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.Monitoring;

/// <summary>A migrated database of its own with the monitoring services over it, a manual clock, and signed-event helpers.</summary>
internal sealed class MonitoringFixture : IAsyncDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private MonitoringFixture(TestDatabase db, ManualClock clock, MonitoringOptions options)
    {
        Db = db;
        Clock = clock;
        Options = options;
        Storage = new MetricStorage(db.DataSource);
        Agents = new AgentRegistry(db.DataSource, options, clock);
        Series = new SeriesCatalogue(db.DataSource);
        Ingest = new MetricIngest(db.DataSource, Agents, Storage, Series, options, clock);
        Rollups = new MetricRollups(db.DataSource, Storage);
        Retention = new MetricRetention(db.DataSource, Storage, options, clock);
        Queries = new MetricQueries(db.DataSource, options, clock);
    }

    public TestDatabase Db { get; }
    public ManualClock Clock { get; }
    public MonitoringOptions Options { get; }
    public MetricStorage Storage { get; }
    public AgentRegistry Agents { get; }
    public SeriesCatalogue Series { get; }
    public MetricIngest Ingest { get; }
    public MetricRollups Rollups { get; }
    public MetricRetention Retention { get; }
    public MetricQueries Queries { get; }

    public static async Task<MonitoringFixture> CreateAsync(DateTimeOffset? start = null)
    {
        var db = await TestDatabase.CreateAsync();
        await new PostgresMigrator(db.DataSource, NullLogger<PostgresMigrator>.Instance).MigrateAsync(CancellationToken.None);
        var options = new MonitoringOptions { AgentKeySecret = "fixture-master-secret-0123456789abcdef" };
        return new MonitoringFixture(db, new ManualClock(start ?? Start), options);
    }

    public static Principal Admin(string tenant) => new(false, tenant, "u-" + tenant, Role.Admin, []);

    public async Task<AgentCredential> RegisterAsync(string tenant, string name)
    {
        var outcome = await Agents.RegisterAsync(Admin(tenant), name, CancellationToken.None);
        Assert.True(outcome.Succeeded, outcome.Failure?.Detail);
        return outcome.Value!;
    }

    public static MetricBatch Batch(string agent, long seq, DateTimeOffset time, params (string Name, double Value, (string, string)[] Labels)[] samples) =>
        new(MetricBatch.CurrentVersion, agent, seq, "web-1", time, 10,
            samples.Length == 0
                ? [new MetricSample("cpu.usage", new Dictionary<string, string> { ["core"] = "total" }, 12.5)]
                : samples.Select(s => new MetricSample(s.Name, s.Labels.ToDictionary(l => l.Item1, l => l.Item2), s.Value)).ToList(),
            new Dictionary<string, string> { ["agent_version"] = "1.0.0", ["os"] = "Debian 12" });

    public static byte[] Body(MetricBatch batch) => JsonSerializer.SerializeToUtf8Bytes(batch, MetricsJsonContext.Default.MetricBatch);

    /// <summary>An event signed with the credential's key at <paramref name="signedAt"/> (default: the clock's now), enqueued now.</summary>
    public MetricEvent Signed(AgentCredential credential, byte[] body, string source, DateTimeOffset? signedAt = null, string? key = null, int? version = null)
    {
        Assert.True(AgentSignature.TryDecodeKey(key ?? credential.Key, out var k));
        var ts = (signedAt ?? Clock.GetUtcNow()).ToUnixTimeSeconds();
        var v = version ?? credential.Agent.KeyVersion;
        return new MetricEvent(body, credential.Agent.Id, v.ToString(CultureInfo.InvariantCulture), ts.ToString(CultureInfo.InvariantCulture),
            AgentSignature.Sign(k, credential.Agent.Id, v, ts, body), Clock.GetUtcNow(), source);
    }

    public Task<IngestReport> IngestAsync(params MetricEvent[] events) => Ingest.IngestAsync(events, "ingest-metrics", CancellationToken.None);

    public Task<long> CountAsync(string sql) => Db.ScalarAsync(sql);

    public async Task<List<string>> RejectionsAsync()
    {
        await using var command = Db.DataSource.CreateCommand("select reason from rejected_events order by id");
        var list = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            list.Add(reader.GetString(0));
        return list;
    }

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    public async ValueTask DisposeAsync() => await Db.DisposeAsync();
}
