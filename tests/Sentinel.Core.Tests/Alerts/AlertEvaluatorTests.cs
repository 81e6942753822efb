using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Core.Alerts;
using Sentinel.Core.Monitoring;
using Sentinel.Core.Tests.Monitoring;

namespace Sentinel.Core.Tests.Alerts;

/// <summary>Rules evaluated over samples stored by the real ingest path in PostgreSQL, on a manual clock.</summary>
public sealed class AlertEvaluatorTests : IAsyncLifetime
{
    private AlertsFixture _alerts = null!;
    private MonitoringFixture _f = null!;
    private AlertStore _store = null!;
    private AlertEvaluator _evaluator = null!;
    private long _seq;

    public async Task InitializeAsync()
    {
        _alerts = await AlertsFixture.CreateAsync();
        (_f, _store, _evaluator) = (_alerts.Monitoring, _alerts.Store, _alerts.Evaluator);
        // These tests are about the rules they create; the built-in set has its own tests (AlertBuiltinsTests).
        await _f.Db.ScalarAsync($"insert into alert_tenants (tenant_id, builtins_version, seeded_at) values ('t1', {AlertBuiltins.Version}, now()), ('t2', {AlertBuiltins.Version}, now()) returning 1");
    }

    public async Task DisposeAsync() => await _alerts.DisposeAsync();

    private Task<IngestReport> StoreAsync(AgentCredential agent, DateTimeOffset at, double cpu) =>
        _alerts.StoreAsync(agent, ++_seq, at, ("cpu.usage", cpu, [("core", "total")]));

    private async Task<AlertRule> RuleAsync(string tenant, string @for = "2m", string window = "1m", string aggregation = "avg", string? summary = null)
    {
        var outcome = await _store.CreateAsync(tenant, new AlertRuleDraft("High CPU", "cpu.usage", ["core=total"], aggregation, window, ">", 90, @for, null, "critical",
            new Dictionary<string, string> { ["team"] = "ops" }, summary is null ? null : new Dictionary<string, string> { ["summary"] = summary }, null), CancellationToken.None);
        Assert.True(outcome.Succeeded, outcome.Failure?.Detail);
        return outcome.Value!;
    }

    [Fact]
    public async Task CpuOver90For2m_GoesPendingThenFiringThenResolved_WithHistory()
    {
        var hot = await _f.RegisterAsync("t1", "hot");
        var calm = await _f.RegisterAsync("t1", "calm");
        var rule = await RuleAsync("t1", summary: "{{ $labels.agent }} CPU at {{ $value }}%");
        var t = MonitoringFixture.Start;
        var seen = new List<string>();
        // Each minute: the hot agent reports 95 for four minutes then 20; the calm one always 30. Evaluate just after.
        double[] hotValues = [95, 95, 95, 95, 20, 20];
        for (var minute = 0; minute < hotValues.Length; minute++)
        {
            var at = t.AddMinutes(minute);
            await StoreAsync(hot, at.AddSeconds(-5), hotValues[minute]);
            await StoreAsync(calm, at.AddSeconds(-5), 30);
            _f.Clock.Set(at);
            await _evaluator.EvaluateAsync(null, CancellationToken.None);
            var active = await _store.ActiveAsync("t1", null, CancellationToken.None);
            seen.Add(active.Count == 0 ? "none" : string.Join(",", active.Select(a => a.Instance.State)));
            Assert.All(active, a => Assert.Equal(hot.Agent.Id, a.Instance.Labels["agent"]));
        }

        // avg over the last minute: the 20 at minute 4 averages with nothing older inside the window, so it clears at 4.
        Assert.Equal(["pending", "pending", "firing", "firing", "none", "none"], seen);
        var history = await _store.HistoryAsync("t1", new AlertHistoryQuery(null, null, null, null, null, 100), CancellationToken.None);
        Assert.Equal(["inactive>pending", "pending>firing", "firing>resolved"], history.Reverse().Select(h => h.From + ">" + h.To));
        Assert.All(history, h => Assert.Equal(rule.Id, h.RuleId));
        var fired = history.Single(h => h.To == "firing");
        Assert.Equal(t.AddMinutes(2), fired.At);
        Assert.Equal($"{hot.Agent.Id} CPU at 95%", fired.Summary);
        Assert.Equal(("High CPU", "critical", "ops", "total"), (fired.Labels["alertname"], fired.Labels["severity"], fired.Labels["team"], fired.Labels["core"]));
    }

    [Fact]
    public async Task AnAgentThatStopsReporting_Resolves_AndRulesStayInTheirTenant()
    {
        var mine = await _f.RegisterAsync("t1", "mine");
        var theirs = await _f.RegisterAsync("t2", "theirs");
        await RuleAsync("t1", @for: "0s");
        var t = MonitoringFixture.Start;
        await StoreAsync(mine, t.AddSeconds(-5), 99);
        await StoreAsync(theirs, t.AddSeconds(-5), 99);
        _f.Clock.Set(t);
        var report = await _evaluator.EvaluateAsync(null, CancellationToken.None);
        Assert.Equal((1, 1, 1), (report.Rules, report.Series, report.Firing));
        Assert.Single(await _store.ActiveAsync("t1", AlertStates.Firing, CancellationToken.None));
        Assert.Empty(await _store.ActiveAsync("t2", null, CancellationToken.None));

        // Silence from the agent: the window slides past its last sample; no data is false.
        _f.Clock.Set(t.AddMinutes(2));
        await _evaluator.EvaluateAsync(null, CancellationToken.None);
        Assert.Empty(await _store.ActiveAsync("t1", null, CancellationToken.None));
        var history = await _store.HistoryAsync("t1", new AlertHistoryQuery(null, AlertStates.Resolved, null, null, null, 10), CancellationToken.None);
        Assert.Single(history);
        Assert.Null(history[0].Value);
    }

    [Fact]
    public async Task ChangingOrDeletingARule_EndsItsAlerts_AndEvaluatingTwiceChangesNothing()
    {
        var agent = await _f.RegisterAsync("t1", "a");
        var rule = await RuleAsync("t1", @for: "0s", aggregation: "max");
        var t = MonitoringFixture.Start;
        await StoreAsync(agent, t.AddSeconds(-5), 99);
        _f.Clock.Set(t);
        await _evaluator.EvaluateAsync("t1", CancellationToken.None);
        var again = await _evaluator.EvaluateAsync("t1", CancellationToken.None);
        Assert.Equal((0, 1), (again.Changes, again.Firing));

        // A stale If-Match loses; a current one wins and, the threshold having changed, resolves the alert.
        var stale = await _store.UpdateAsync("t1", rule.Id, Draft(95), 7, CancellationToken.None);
        Assert.Equal("edit-conflict", stale.Failure!.Slug);
        var updated = await _store.UpdateAsync("t1", rule.Id, Draft(95), rule.Version, CancellationToken.None);
        Assert.True(updated.Succeeded, updated.Failure?.Detail);
        Assert.Equal(2, updated.Value!.Version);
        Assert.Empty(await _store.ActiveAsync("t1", null, CancellationToken.None));

        await _evaluator.EvaluateAsync("t1", CancellationToken.None);
        Assert.Single(await _store.ActiveAsync("t1", AlertStates.Firing, CancellationToken.None));
        Assert.True((await _store.DeleteAsync("t1", rule.Id, CancellationToken.None)).Succeeded);
        Assert.Empty(await _store.ActiveAsync("t1", null, CancellationToken.None));
        var history = await _store.HistoryAsync("t1", new AlertHistoryQuery(rule.Id, null, null, null, null, 100), CancellationToken.None);
        Assert.Equal(["inactive>firing", "firing>resolved", "inactive>firing", "firing>resolved"], history.Reverse().Select(h => h.From + ">" + h.To));
        // Another tenant cannot see, change or delete it.
        Assert.Null(await _store.GetAsync("t2", rule.Id, CancellationToken.None));
        Assert.Equal("not-found", (await _store.DeleteAsync("t2", rule.Id, CancellationToken.None)).Failure!.Slug);

        static AlertRuleDraft Draft(double threshold) => new("High CPU", "cpu.usage", ["core=total"], "max", "1m", ">", threshold, "0s", null, "critical", null, null, null);
    }

    [Fact]
    public async Task Rate_IsChangePerSecond()
    {
        var agent = await _f.RegisterAsync("t1", "a");
        var t = MonitoringFixture.Start;
        var outcome = await _store.CreateAsync("t1", new AlertRuleDraft("growth", "cpu.usage", null, "rate", "2m", ">", 0.5, "0s", null, "info", null, null, null), CancellationToken.None);
        Assert.True(outcome.Succeeded);
        await StoreAsync(agent, t.AddSeconds(-60), 10);
        await StoreAsync(agent, t.AddSeconds(-20), 40);   // +30 in 40 s = 0.75/s
        _f.Clock.Set(t);
        await _evaluator.EvaluateAsync("t1", CancellationToken.None);
        var firing = Assert.Single(await _store.ActiveAsync("t1", AlertStates.Firing, CancellationToken.None));
        Assert.Equal(0.75, firing.Instance.Value!.Value, 6);
    }

    [Fact]
    public async Task NamesAreUniquePerTenant()
    {
        await RuleAsync("t1");
        var dup = await _store.CreateAsync("t1", new AlertRuleDraft("High CPU", "cpu.usage", null, "avg", "1m", ">", 1, null, null, null, null, null, null), CancellationToken.None);
        Assert.Equal("rule-name-taken", dup.Failure!.Slug);
        Assert.True((await _store.CreateAsync("t2", new AlertRuleDraft("High CPU", "cpu.usage", null, "avg", "1m", ">", 1, null, null, null, null, null, null), CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task ConcurrentEvaluations_OfOneRule_RecordEachChangeOnce()
    {
        var agent = await _f.RegisterAsync("t1", "a");
        await RuleAsync("t1", @for: "0s");
        var t = MonitoringFixture.Start;
        await StoreAsync(agent, t.AddSeconds(-5), 99);
        _f.Clock.Set(t);
        // Two processes (as the timer and post-ingest evaluation on two instances) evaluating at the same moment, many times.
        var other = new AlertEvaluator(new AlertStore(_f.Db.DataSource, _f.Clock), _f.Queries, _f.Db.DataSource, _f.Clock, NullLogger<AlertEvaluator>.Instance);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => (i % 2 == 0 ? _evaluator : other).EvaluateAsync("t1", CancellationToken.None)));
        var history = await _store.HistoryAsync("t1", new AlertHistoryQuery(null, null, null, null, null, 100), CancellationToken.None);
        Assert.Equal("inactive>firing", Assert.Single(history).From + ">" + history[0].To);
        Assert.Single(await _store.ActiveAsync("t1", AlertStates.Firing, CancellationToken.None));
    }
}
