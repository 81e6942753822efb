using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Sentinel.Core.Alerts;
using Sentinel.Core.Identity;
using Sentinel.Core.Tests.Monitoring;

namespace Sentinel.Core.Tests.Alerts;

/// <summary>
/// Alertmanager's grouping with a manual clock over real PostgreSQL: group_wait, group_interval, repeat_interval,
/// resolved once, silences and inhibition muting and un-muting on time, send_resolved, and the history of every
/// notification. Alerts are written as the evaluator leaves them (alert_instances rows, its own tests cover how); what
/// a notification would send is read from the relay outbox, where the notifier queues it.
/// </summary>
public sealed class AlertNotifierTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = MonitoringFixture.Start;
    private MonitoringFixture _f = null!;
    private AlertStore _store = null!;
    private AlertReceivers _receivers = null!;
    private AlertSilences _silences = null!;
    private AlertNotifier _notifier = null!;
    private int _queued;

    public async Task InitializeAsync()
    {
        _f = await MonitoringFixture.CreateAsync();
        _f.Clock.Set(T0);
        _store = new AlertStore(_f.Db.DataSource, _f.Clock);
        _receivers = new AlertReceivers(_f.Db.DataSource, _f.Clock);
        _silences = new AlertSilences(_f.Db.DataSource, _f.Clock);
        _notifier = new AlertNotifier(_f.Db.DataSource, _receivers, _silences, () => Interlocked.Increment(ref _queued), new AlertsOptions(), _f.Clock,
            NullLogger<AlertNotifier>.Instance);
    }

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private async Task<AlertRule> RuleAsync(string name, string tenant = "t1")
    {
        var created = await _store.CreateAsync(tenant, new AlertRuleDraft(name, "cpu.usage", null, "avg", "1m", ">", 90, "0s", null, "critical", null,
            new Dictionary<string, string> { ["summary"] = "{{ $labels.host }} CPU at {{ $value }}%" }, true), CancellationToken.None);
        Assert.True(created.Succeeded, created.Failure?.Detail);
        return created.Value!;
    }

    private async Task<AlertReceiver> ReceiverAsync(string tenant = "t1", IReadOnlyList<string>? groupBy = null, bool sendResolved = true, IReadOnlyList<string>? matchers = null)
    {
        var created = await _receivers.CreateAsync(tenant, new AlertReceiverDraft("ops-" + Guid.NewGuid().ToString("N")[..6], ReceiverKinds.Webhook, "http://127.0.0.1:9/hook",
            null, null, matchers, groupBy, null, null, null, sendResolved, null), CancellationToken.None);
        Assert.True(created.Succeeded, created.Failure?.Detail);
        return created.Value!;
    }

    /// <summary>What the evaluator stores for a firing alert of <paramref name="rule"/> on <paramref name="host"/>.</summary>
    private async Task FireAsync(AlertRule rule, string host, double value = 95, string? agent = null)
    {
        var labels = new Dictionary<string, string> { ["alertname"] = rule.Name, ["severity"] = rule.Severity, ["host"] = host, ["agent"] = agent ?? "a-" + host };
        await using var command = _f.Db.DataSource.CreateCommand(
            "insert into alert_instances (rule_id, fingerprint, tenant_id, labels, state, active_at, fired_at, last_true_at, evaluated_at, value) " +
            "values ($1, $2, $3, $4::jsonb, 'firing', $5, $5, $5, $5, $6) on conflict (rule_id, fingerprint) do update set value = excluded.value, evaluated_at = excluded.evaluated_at");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "host=" + host });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.TenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(labels) });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _f.Clock.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = value });
        await command.ExecuteNonQueryAsync();
    }

    private async Task ResolveAsync(AlertRule rule, string host)
    {
        await using var command = _f.Db.DataSource.CreateCommand("delete from alert_instances where rule_id = $1 and fingerprint = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "host=" + host });
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs the notifier every 10 s (as <c>alerts-notify</c> does) for <paramref name="span"/>.</summary>
    private async Task RunForAsync(TimeSpan span)
    {
        var end = _f.Clock.GetUtcNow() + span;
        while (_f.Clock.GetUtcNow() < end)
        {
            _f.Clock.Advance(TimeSpan.FromSeconds(10));
            await _notifier.RunAsync(CancellationToken.None);
        }
    }

    private sealed record Sent(DateTimeOffset At, string Status, List<(string Name, string Host, string Status)> Alerts, string Body);

    private async Task<List<Sent>> SentAsync(AlertReceiver receiver)
    {
        await using var command = _f.Db.DataSource.CreateCommand("select created_at, body from relay_deliveries where target = $1 order by id");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = receiver.Target });
        var list = new List<Sent>();
        await using var r = await command.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            var body = r.GetString(1);
            using var doc = JsonDocument.Parse(body);
            var alerts = doc.RootElement.GetProperty("alerts").EnumerateArray().Select(a => (a.GetProperty("labels").GetProperty("alertname").GetString()!,
                a.GetProperty("labels").GetProperty("host").GetString()!, a.GetProperty("status").GetString()!)).ToList();
            list.Add(new Sent(r.GetFieldValue<DateTimeOffset>(0), doc.RootElement.GetProperty("status").GetString()!, alerts, body));
        }

        return list;
    }

    [Fact]
    public async Task GroupWait_CollectsAlertsIntoOneNotification_ThenGroupInterval_ThenRepeatInterval()
    {
        var receiver = await ReceiverAsync();
        var cpu = await RuleAsync("High CPU");
        await FireAsync(cpu, "web-1");
        await _notifier.RunAsync(CancellationToken.None);
        _f.Clock.Advance(TimeSpan.FromSeconds(10));
        await FireAsync(cpu, "web-2");
        await FireAsync(cpu, "web-3");
        await RunForAsync(TimeSpan.FromSeconds(10));
        Assert.Empty(await SentAsync(receiver)); // still inside group_wait (30 s)

        await RunForAsync(TimeSpan.FromSeconds(20));
        var first = Assert.Single(await SentAsync(receiver));
        Assert.Equal(T0.AddSeconds(30), first.At);
        Assert.Equal(["web-1", "web-2", "web-3"], first.Alerts.Select(a => a.Host).Order());
        Assert.Equal("firing", first.Status);
        using (var doc = JsonDocument.Parse(first.Body))
        {
            var root = doc.RootElement;
            Assert.Equal("4", root.GetProperty("version").GetString());
            Assert.Equal("High CPU", root.GetProperty("groupLabels").GetProperty("alertname").GetString());
            Assert.Equal("critical", root.GetProperty("commonLabels").GetProperty("severity").GetString());
            Assert.Equal("web-1 CPU at 95%", root.GetProperty("alerts")[0].GetProperty("annotations").GetProperty("summary").GetString());
        }

        Assert.Equal(1, _queued);

        // A new alert joins: sent at the next group_interval tick (5 m after the first), not before.
        _f.Clock.Advance(TimeSpan.FromMinutes(1));
        await FireAsync(cpu, "web-4");
        await RunForAsync(TimeSpan.FromMinutes(3));
        Assert.Single(await SentAsync(receiver));
        await RunForAsync(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(10));
        var sent = await SentAsync(receiver);
        Assert.Equal(2, sent.Count);
        Assert.Equal(T0.AddSeconds(30) + TimeSpan.FromMinutes(5), sent[1].At);
        Assert.Equal(4, sent[1].Alerts.Count);

        // Nothing changes: the next one is the repeat, 4 h after the last notification (on a group_interval tick).
        await RunForAsync(TimeSpan.FromHours(4) - TimeSpan.FromMinutes(1));
        Assert.Equal(2, (await SentAsync(receiver)).Count);
        await RunForAsync(TimeSpan.FromMinutes(2));
        sent = await SentAsync(receiver);
        Assert.Equal(3, sent.Count);
        Assert.Equal(sent[1].At + TimeSpan.FromHours(4), sent[2].At);
        Assert.Equal(4, sent[2].Alerts.Count);
    }

    [Fact]
    public async Task Resolved_IsSentOnce_AndAGroupOfManyAlertsIsOneNotification_PerGroupLabel()
    {
        var receiver = await ReceiverAsync();
        var cpu = await RuleAsync("High CPU");
        var disk = await RuleAsync("Disk full");
        for (var i = 0; i < 20; i++)
            await FireAsync(cpu, $"web-{i:D2}");
        await FireAsync(disk, "db-1");
        await RunForAsync(TimeSpan.FromSeconds(40)); // seen at +10 s, flushed group_wait (30 s) later
        var sent = await SentAsync(receiver);
        // Grouped by alertname (the default): one notification per group, however many alerts it has.
        Assert.Equal(2, sent.Count);
        Assert.Equal(20, sent.Single(s => s.Alerts[0].Name == "High CPU").Alerts.Count);

        await ResolveAsync(disk, "db-1");
        await RunForAsync(TimeSpan.FromMinutes(5));
        sent = await SentAsync(receiver);
        Assert.Equal(3, sent.Count);
        Assert.Equal("resolved", sent[2].Status);
        Assert.Equal(("Disk full", "db-1", "resolved"), Assert.Single(sent[2].Alerts));
        // Sent once: later ticks (until the CPU group's repeat) send nothing more.
        await RunForAsync(TimeSpan.FromMinutes(30));
        Assert.Equal(3, (await SentAsync(receiver)).Count);

        // One of twenty resolves: the next tick carries the 19 firing and the resolved one, once.
        await ResolveAsync(cpu, "web-07");
        await RunForAsync(TimeSpan.FromMinutes(5));
        sent = await SentAsync(receiver);
        Assert.Equal(4, sent.Count);
        Assert.Equal(19, sent[3].Alerts.Count(a => a.Status == "firing"));
        Assert.Equal(("High CPU", "web-07", "resolved"), Assert.Single(sent[3].Alerts, a => a.Status == "resolved"));
        await RunForAsync(TimeSpan.FromMinutes(20));
        Assert.Equal(4, (await SentAsync(receiver)).Count);

        // History: a notification row per alert carried, with the receiver and the delivery.
        var history = await _store.HistoryAsync("t1", new AlertHistoryQuery(null, null, null, null, null, 500, "notification"), CancellationToken.None);
        Assert.Equal(20 + 1 + 1 + 20, history.Count);
        Assert.All(history, h => Assert.Equal(receiver.Id, h.ReceiverId));
        Assert.Equal(4, history.Select(h => h.DeliveryId).Distinct().Count());
        Assert.All(history, h => Assert.Equal("pending", h.DeliveryState));
        Assert.Single(history, h => h.RuleName == "Disk full" && h.To == "resolved");
    }

    [Fact]
    public async Task ASilence_MutesWhileActive_AndWhatStartedFiringUnderItIsSentWhenItEnds()
    {
        var receiver = await ReceiverAsync(groupBy: ["alertname", "host"]);
        var cpu = await RuleAsync("High CPU");
        var created = await _silences.CreateAsync(new Principal(false, "t1", "u-ops", Role.Operator, []),
            new AlertSilenceDraft(["host=web-1"], T0, T0.AddMinutes(20), "maintenance"), CancellationToken.None);
        Assert.True(created.Succeeded);
        await FireAsync(cpu, "web-1");
        await FireAsync(cpu, "web-2");
        await RunForAsync(TimeSpan.FromMinutes(19));
        var sent = await SentAsync(receiver);
        Assert.Equal("web-2", Assert.Single(sent).Alerts.Single().Host);

        // The silence ends at T0+20m by itself: web-1's group (seen at T0+10s, flushed every 5 m since T0+40s, sending
        // nothing while muted) sends it at its first tick after that.
        await RunForAsync(TimeSpan.FromMinutes(2));
        sent = await SentAsync(receiver);
        var web1 = Assert.Single(sent, s => s.Alerts.Any(a => a.Host == "web-1"));
        Assert.Equal(T0.AddMinutes(20).AddSeconds(40), web1.At);
        Assert.Equal(2, sent.Count);
    }

    [Fact]
    public async Task AgentSilent_InhibitsThatAgentsOtherAlerts_UntilItResolves()
    {
        var receiver = await ReceiverAsync(groupBy: ["alertname", "agent"]);
        var silent = await RuleAsync(AlertSilences.InhibitingAlert);
        var cpu = await RuleAsync("High CPU");
        await FireAsync(silent, "web-1", agent: "agent-1");
        await FireAsync(cpu, "web-1", agent: "agent-1");
        await FireAsync(cpu, "web-2", agent: "agent-2");
        await RunForAsync(TimeSpan.FromMinutes(2));
        var sent = await SentAsync(receiver);
        Assert.Equal(2, sent.Count);
        Assert.Contains(sent, s => s.Alerts.Single() == (AlertSilences.InhibitingAlert, "web-1", "firing"));
        Assert.Contains(sent, s => s.Alerts.Single() == ("High CPU", "web-2", "firing"));

        // The agent is back: its CPU alert is news now, and goes out (with the inhibitor's resolved) at the next ticks.
        await ResolveAsync(silent, "web-1");
        await RunForAsync(TimeSpan.FromMinutes(6));
        sent = await SentAsync(receiver);
        Assert.Contains(sent, s => s.Alerts.Single() == ("High CPU", "web-1", "firing"));
        Assert.Contains(sent, s => s.Alerts.Single() == (AlertSilences.InhibitingAlert, "web-1", "resolved"));
        Assert.Equal(4, sent.Count);
    }

    [Fact]
    public async Task WithoutSendResolved_ResolvedAlertsAreNotSent_AndReceiversSeeOnlyWhatTheirMatchersSelect()
    {
        var quiet = await ReceiverAsync(sendResolved: false);
        var dbOnly = await ReceiverAsync(matchers: ["host=~db-.*"]);
        var otherTenant = await ReceiverAsync(tenant: "t2");
        var cpu = await RuleAsync("High CPU");
        await FireAsync(cpu, "web-1");
        await FireAsync(cpu, "db-1");
        await RunForAsync(TimeSpan.FromSeconds(40));
        Assert.Equal(2, Assert.Single(await SentAsync(quiet)).Alerts.Count);
        Assert.Equal(("High CPU", "db-1", "firing"), Assert.Single(Assert.Single(await SentAsync(dbOnly)).Alerts));
        Assert.Empty(await SentAsync(otherTenant));

        await ResolveAsync(cpu, "web-1");
        await RunForAsync(TimeSpan.FromMinutes(5));
        Assert.Single(await SentAsync(quiet)); // a resolved alert alone is not news to it
        await ResolveAsync(cpu, "db-1");
        await RunForAsync(TimeSpan.FromMinutes(5));
        Assert.Single(await SentAsync(quiet)); // all resolved: logged, nothing sent
        var db = await SentAsync(dbOnly);
        Assert.Equal(2, db.Count);
        Assert.Equal("resolved", db[1].Status);

        // The group went inactive: a new episode waits group_wait again and is news (not in the last notification).
        await FireAsync(cpu, "web-1");
        await RunForAsync(TimeSpan.FromSeconds(20));
        Assert.Single(await SentAsync(quiet));
        await RunForAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(2, (await SentAsync(quiet)).Count);
    }

    [Fact]
    public async Task TwoNotifiersAtOnce_QueueEachNotificationOnce()
    {
        var receiver = await ReceiverAsync();
        var cpu = await RuleAsync("High CPU");
        for (var i = 0; i < 5; i++)
            await FireAsync(cpu, $"web-{i}");
        await _notifier.RunAsync(CancellationToken.None);
        _f.Clock.Advance(TimeSpan.FromSeconds(31));
        var other = new AlertNotifier(_f.Db.DataSource, _receivers, _silences, () => { }, new AlertsOptions(), _f.Clock, NullLogger<AlertNotifier>.Instance);
        await Task.WhenAll(Enumerable.Range(0, 6).Select(i => (i % 2 == 0 ? _notifier : other).RunAsync(CancellationToken.None)));
        Assert.Single(await SentAsync(receiver));
    }

    [Theory]
    [InlineData("webhook", "ftp://x/y", null, "url")]
    [InlineData("webhook", "http://user:pw@x/y", null, "url")]
    [InlineData("pager", "http://x/y", null, "kind")]
    [InlineData("chatwoot", null, null, "chatwootInstance")]
    [InlineData("webhook", "http://x/y", "1s", "groupInterval")]
    public async Task InvalidReceivers_AreRefusedWithTheField(string kind, string? url, string? interval, string field)
    {
        var outcome = await _receivers.CreateAsync("t1", new AlertReceiverDraft("r", kind, url, null, null, null, null, null, interval, null, null, null), CancellationToken.None);
        Assert.False(outcome.Succeeded);
        Assert.Equal("validation-failed", outcome.Failure!.Slug);
        Assert.Contains(field, outcome.Failure.Title, StringComparison.Ordinal);
        Assert.Empty(await _receivers.ListAsync("t1", CancellationToken.None));
    }
}
