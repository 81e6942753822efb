using Sentinel.Core.Alerts;
using Sentinel.Core.Identity;
using Sentinel.Core.Tests.Monitoring;

namespace Sentinel.Core.Tests.Alerts;

/// <summary>Silences (validation, time window, matchers) and the built-in inhibition, over real PostgreSQL.</summary>
public sealed class AlertSilencesTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = MonitoringFixture.Start;
    private MonitoringFixture _f = null!;
    private AlertSilences _silences = null!;

    public async Task InitializeAsync()
    {
        _f = await MonitoringFixture.CreateAsync();
        _silences = new AlertSilences(_f.Db.DataSource, _f.Clock);
    }

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private static Principal Operator(string tenant) => new(false, tenant, "u-ops", Role.Operator, []);

    private static Dictionary<string, string> Labels(string alertname, string agent) => new() { ["alertname"] = alertname, ["agent"] = agent, ["severity"] = "warning" };

    [Fact]
    public async Task ASilence_MutesMatchingAlerts_OnlyBetweenStartAndEnd_AndExpiresEarlyOnRequest()
    {
        _f.Clock.Set(T0);
        var created = await _silences.CreateAsync(Operator("t1"),
            new AlertSilenceDraft(["alertname=High CPU", "agent=~web-.*"], T0.AddMinutes(10), T0.AddHours(1), "planned load test"), CancellationToken.None);
        Assert.True(created.Succeeded, created.Failure?.Detail);
        var list = await _silences.ListAsync("t1", false, CancellationToken.None);
        var silence = Assert.Single(list);
        Assert.Equal("pending", silence.State(T0));

        Assert.False(silence.Mutes(Labels("High CPU", "web-1"), T0.AddMinutes(5)));     // not started
        Assert.True(silence.Mutes(Labels("High CPU", "web-1"), T0.AddMinutes(10)));
        Assert.False(silence.Mutes(Labels("High CPU", "db-1"), T0.AddMinutes(10)));     // agent does not match
        Assert.False(silence.Mutes(Labels("High memory", "web-1"), T0.AddMinutes(10))); // alertname does not match
        Assert.False(silence.Mutes(Labels("High CPU", "web-1"), T0.AddHours(1)));       // ended (by itself)

        _f.Clock.Set(T0.AddMinutes(20));
        Assert.True((await _silences.ExpireAsync("t1", silence.Id, CancellationToken.None)).Succeeded);
        Assert.Empty(await _silences.ListAsync("t1", false, CancellationToken.None));
        var expired = Assert.Single(await _silences.ListAsync("t1", true, CancellationToken.None));
        Assert.Equal("expired", expired.State(T0.AddMinutes(20)));
        Assert.Equal("not-found", (await _silences.ExpireAsync("t1", silence.Id, CancellationToken.None)).Failure!.Slug);
        // Tenancy: another tenant neither sees nor expires it.
        Assert.Empty(await _silences.ListAsync("t2", true, CancellationToken.None));
    }

    [Theory]
    [InlineData(new string[0], 60, "c", "matchers")]
    [InlineData(new[] { "alertname" }, 60, "c", "matchers")]
    [InlineData(new[] { "alertname=~(" }, 60, "c", "matchers")]
    [InlineData(new[] { "agent!=x" }, 60, "c", "matchers")]
    [InlineData(new[] { "agent=x" }, -1, "c", "endsAt")]
    [InlineData(new[] { "agent=x" }, 60 * 24 * 91, "c", "endsAt")]
    [InlineData(new[] { "agent=x" }, 60, " ", "comment")]
    public async Task InvalidSilences_AreRefused(string[] matchers, int minutes, string comment, string field)
    {
        _f.Clock.Set(T0);
        var outcome = await _silences.CreateAsync(Operator("t1"), new AlertSilenceDraft(matchers, null, T0.AddMinutes(minutes), comment), CancellationToken.None);
        Assert.Equal(("validation-failed", "Invalid " + field), (outcome.Failure?.Slug, outcome.Failure?.Title));
        Assert.Empty(await _silences.ListAsync("t1", true, CancellationToken.None));
    }

    [Fact]
    public void AFiringAgentSilentAlert_InhibitsThatAgentsOtherAlerts_Only()
    {
        var silent = new AlertInstance("r1", "a1|", "t1", Labels(AlertSilences.InhibitingAlert, "a1"), AlertStates.Firing, T0, T0, T0, T0, 4);
        var pendingSilent = silent with { Fingerprint = "a2|", Labels = Labels(AlertSilences.InhibitingAlert, "a2"), State = AlertStates.Pending };
        var active = new List<(AlertInstance, string)> { (silent, AlertSilences.InhibitingAlert), (pendingSilent, AlertSilences.InhibitingAlert) };

        Assert.NotNull(AlertSilences.Muting(Labels("High CPU", "a1"), [], active, T0).InhibitedBy);
        Assert.Null(AlertSilences.Muting(Labels("High CPU", "a2"), [], active, T0).InhibitedBy);          // its silence alert only pending
        Assert.Null(AlertSilences.Muting(Labels("High CPU", "a3"), [], active, T0).InhibitedBy);          // another agent
        Assert.Null(AlertSilences.Muting(Labels(AlertSilences.InhibitingAlert, "a1"), [], active, T0).InhibitedBy); // not itself
    }

    [Fact]
    public async Task Purge_DeletesOldHistoryAndLongEndedSilences_Only()
    {
        _f.Clock.Set(T0);
        await _f.Db.ScalarAsync(
            $$"""
            insert into alert_history (tenant_id, rule_id, rule_name, fingerprint, labels, from_state, to_state, at)
            values ('t1', 'r', 'n', 'f', '{}', 'inactive', 'firing', '{{T0.AddDays(-401):O}}'), ('t1', 'r', 'n', 'f', '{}', 'firing', 'resolved', '{{T0.AddDays(-390):O}}')
            returning 1
            """);
        var old = await _silences.CreateAsync(Operator("t1"), new AlertSilenceDraft(["agent=a"], null, T0.AddHours(1), "old"), CancellationToken.None);
        var recent = await _silences.CreateAsync(Operator("t1"), new AlertSilenceDraft(["agent=b"], null, T0.AddDays(3), "recent"), CancellationToken.None);
        Assert.True(old.Succeeded && recent.Succeeded);

        _f.Clock.Set(T0.AddDays(8));   // history cutoff T0 - 392 days; the first silence ended 8 days ago, the second 5
        var store = new AlertStore(_f.Db.DataSource, _f.Clock);
        Assert.Equal((1, 1), await store.PurgeAsync(TimeSpan.FromDays(400), CancellationToken.None));
        Assert.Equal(1, await _f.Db.ScalarAsync("select count(*) from alert_history"));
        Assert.Equal(recent.Value!.Id, Assert.Single(await _silences.ListAsync("t1", true, CancellationToken.None)).Id);
    }
}
