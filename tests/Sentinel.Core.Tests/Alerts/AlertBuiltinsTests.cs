using Sentinel.Core.Alerts;
using Sentinel.Core.Monitoring;
using Sentinel.Core.Tests.Monitoring;

namespace Sentinel.Core.Tests.Alerts;

/// <summary>The built-in rules and the metrics Sentinel computes for them (agent silence, relay dead letters), and
/// evaluation right after ingest.</summary>
public sealed class AlertBuiltinsTests : IAsyncLifetime
{
    private AlertsFixture _alerts = null!;
    private MonitoringFixture _f = null!;
    private AlertStore _store = null!;
    private AlertEvaluator _evaluator = null!;

    public async Task InitializeAsync()
    {
        _alerts = await AlertsFixture.CreateAsync();
        (_f, _store, _evaluator) = (_alerts.Monitoring, _alerts.Store, _alerts.Evaluator);
    }

    public async Task DisposeAsync() => await _alerts.DisposeAsync();

    private Task<IngestReport> StoreAsync(AgentCredential agent, long seq, DateTimeOffset at, params (string, double, (string, string)[])[] samples) =>
        _alerts.StoreAsync(agent, seq, at, samples);

    [Fact]
    public void EveryBuiltin_IsAValidRule()
    {
        foreach (var draft in AlertBuiltins.All)
            Assert.True(AlertRules.Validate(draft, "r", "t", 1, MonitoringFixture.Start, MonitoringFixture.Start).Succeeded, draft.Name);
        Assert.Equal(6, AlertBuiltins.All.Count);
    }

    [Fact]
    public async Task Builtins_AreCreatedOncePerTenant_AndADeletedOneStaysDeleted()
    {
        await _f.RegisterAsync("t1", "a");
        Assert.Equal(6, await _store.EnsureBuiltinsAsync(null, CancellationToken.None));
        Assert.Equal(0, await _store.EnsureBuiltinsAsync(null, CancellationToken.None));
        var rules = await _store.ListAsync("t1", CancellationToken.None);
        Assert.Equal(["Agent silent", "Filesystem almost full", "High CPU", "High memory", "Relay dead letters", "Service down"], rules.Select(r => r.Name));
        var cpu = rules.Single(r => r.Name == "High CPU");
        Assert.Equal("avg(cpu.usage{core=total}[1m]) > 90 for 5m", cpu.Expression);

        Assert.True((await _store.DeleteAsync("t1", cpu.Id, CancellationToken.None)).Succeeded);
        await _evaluator.EvaluateAsync(null, CancellationToken.None);
        Assert.DoesNotContain(await _store.ListAsync("t1", CancellationToken.None), r => r.Name == "High CPU");
        // A tenant without agents gets them when it first lists its rules.
        Assert.Equal(6, await _store.EnsureBuiltinsAsync("t-new", CancellationToken.None));
    }

    [Fact]
    public async Task AgentSilentForThreeIntervals_Fires_AndReportingAgainResolves()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        var t = MonitoringFixture.Start;
        await StoreAsync(agent, 1, t, ("cpu.usage", 10, [("core", "total")]));   // the agent reports every 10 s

        _f.Clock.Set(t.AddSeconds(25));
        await _evaluator.EvaluateAsync(null, CancellationToken.None);
        Assert.Empty(await _store.ActiveAsync("t1", null, CancellationToken.None));

        _f.Clock.Set(t.AddSeconds(35));
        await _evaluator.EvaluateAsync(null, CancellationToken.None);
        var silent = Assert.Single(await _store.ActiveAsync("t1", AlertStates.Firing, CancellationToken.None));
        Assert.Equal(("Agent silent", "web-1", 3.5), (silent.RuleName, silent.Instance.Labels["agent_name"], silent.Instance.Value));

        await StoreAsync(agent, 2, t.AddSeconds(40), ("cpu.usage", 10, [("core", "total")]));
        await _evaluator.EvaluateAsync(null, CancellationToken.None);
        Assert.Empty(await _store.ActiveAsync("t1", null, CancellationToken.None));
        var history = await _store.HistoryAsync("t1", new AlertHistoryQuery(null, null, null, null, null, 10), CancellationToken.None);
        Assert.Equal(["inactive>firing", "firing>resolved"], history.Reverse().Select(h => h.From + ">" + h.To));
        Assert.Equal("web-1 has sent nothing for 3.5 of its intervals", history[^1].Summary);
    }

    [Fact]
    public async Task RelayDeadLetters_FirePerInstanceAndTarget_InTheirTenantOnly()
    {
        var now = MonitoringFixture.Start;
        _f.Clock.Set(now);
        await _f.Db.ScalarAsync(
            """
            insert into relay_deliveries (tenant_id, webhook_id, conversation_id, instance, target, lane, message_at, state, next_attempt_at, created_at, dead_at)
            values ('t1', 'w1', 'c1', 'sales', 'n8n', 'l1', now(), 'dead', now(), now(), now()),
                   ('t1', 'w2', 'c1', 'sales', 'n8n', 'l1', now(), 'dead', now(), now(), now()),
                   ('t1', 'w3', 'c2', 'sales', 'chatwoot', 'l2', now(), 'delivered', now(), now(), null),
                   ('t2', 'w4', 'c3', 'other', 'n8n', 'l3', now(), 'pending', now(), now(), null)
            returning 1
            """);
        await _evaluator.EvaluateAsync(null, CancellationToken.None);
        var dead = Assert.Single(await _store.ActiveAsync("t1", AlertStates.Firing, CancellationToken.None));
        Assert.Equal(("Relay dead letters", 2.0, "sales", "n8n"), (dead.RuleName, dead.Instance.Value, dead.Instance.Labels["instance"], dead.Instance.Labels["target"]));
        Assert.Empty(await _store.ActiveAsync("t2", null, CancellationToken.None));

        // Replayed (or purged): no dead letter left, the alert resolves.
        await _f.Db.ScalarAsync("update relay_deliveries set state = 'pending' where state = 'dead' returning 1");
        await _evaluator.EvaluateAsync(null, CancellationToken.None);
        Assert.Empty(await _store.ActiveAsync("t1", null, CancellationToken.None));
    }

    [Fact]
    public async Task AfterIngest_OnlyTheTouchedTenantsRulesOnThoseMetrics_AreEvaluated()
    {
        var agent = await _f.RegisterAsync("t1", "web-1");
        await _store.EnsureBuiltinsAsync("t1", CancellationToken.None);
        var t = MonitoringFixture.Start;
        var report = await StoreAsync(agent, 1, t, ("cpu.usage", 99, [("core", "total")]), ("mem.used_percent", 95, []));
        Assert.Equal(new HashSet<(string, string)> { ("t1", "cpu.usage"), ("t1", "mem.used_percent") }, await _evaluator.MetricsOfAsync(report.TouchedSeries, CancellationToken.None));

        var evaluation = await _evaluator.EvaluateTouchedAsync(report.TouchedSeries, CancellationToken.None);
        Assert.Equal((2, 2), (evaluation.Rules, evaluation.Pending));
        var pending = await _store.ActiveAsync("t1", AlertStates.Pending, CancellationToken.None);
        Assert.Equal(["High CPU", "High memory"], pending.Select(p => p.RuleName).Order());

        // Under load, the same tenant and metric are evaluated at most once a second (the next batch or the timer follows).
        Assert.Equal(0, (await _evaluator.EvaluateTouchedAsync(report.TouchedSeries, CancellationToken.None)).Rules);

        // No rule watches a metric: nothing is evaluated (and the watched set follows rule writes at once).
        foreach (var rule in await _store.ListAsync("t1", CancellationToken.None))
            await _store.DeleteAsync("t1", rule.Id, CancellationToken.None);
        await Task.Delay(AlertEvaluator.MinTouchedInterval + TimeSpan.FromMilliseconds(100));
        Assert.Equal(0, (await _evaluator.EvaluateTouchedAsync(report.TouchedSeries, CancellationToken.None)).Rules);

        // A duplicate delivery stores nothing and touches nothing.
        var again = await _f.IngestAsync(_f.Signed(agent, MonitoringFixture.Body(MonitoringFixture.Batch(agent.Agent.Id, 1, t, ("cpu.usage", 99, [("core", "total")]))), "0/1"));
        Assert.Empty(again.TouchedSeries);
    }
}
