using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Core.Alerts;
using Sentinel.Core.Monitoring;
using Sentinel.Core.Tests.Monitoring;

namespace Sentinel.Core.Tests.Alerts;

/// <summary>The monitoring fixture (real PostgreSQL, manual clock) with the alert store and evaluator over it, and
/// batches stored through the real ingest path.</summary>
internal sealed class AlertsFixture : IAsyncDisposable
{
    private AlertsFixture(MonitoringFixture monitoring)
    {
        Monitoring = monitoring;
        Store = new AlertStore(monitoring.Db.DataSource, monitoring.Clock);
        Evaluator = new AlertEvaluator(Store, monitoring.Queries, monitoring.Db.DataSource, monitoring.Clock, NullLogger<AlertEvaluator>.Instance);
    }

    public MonitoringFixture Monitoring { get; }
    public AlertStore Store { get; }
    public AlertEvaluator Evaluator { get; }

    public static async Task<AlertsFixture> CreateAsync() => new(await MonitoringFixture.CreateAsync());

    /// <summary>Stores one batch of <paramref name="agent"/> collected at <paramref name="at"/> (the clock is set there).</summary>
    public async Task<IngestReport> StoreAsync(AgentCredential agent, long seq, DateTimeOffset at, params (string, double, (string, string)[])[] samples)
    {
        Monitoring.Clock.Set(at);
        var report = await Monitoring.IngestAsync(Monitoring.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, seq, at, samples)), "0/" + seq));
        Assert.Equal(1, report.Stored);
        return report;
    }

    public async ValueTask DisposeAsync() => await Monitoring.DisposeAsync();
}
