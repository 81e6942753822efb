using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Core.Identity;

namespace Sentinel.Core.Alerts;

/// <summary>What one notifier pass did.</summary>
internal sealed record NotifyReport(int Groups, int Notifications, int Alerts);

/// <summary>
/// Alertmanager's dispatcher over the stored alerts (dispatch.go, notify.go), run every 10 s by <c>alerts-notify</c>:
/// each enabled receiver takes the firing alerts its matchers select and sorts them into aggregation groups by its
/// <c>group_by</c> labels. A new group waits <c>group_wait</c>, then is flushed every <c>group_interval</c>; a flush drops
/// muted alerts (silences, inhibition) and notifies when the group's firing set has an alert the last notification did
/// not carry, when every alert it carried has resolved, when (with <c>send_resolved</c>) an alert resolved since, or
/// when <c>repeat_interval</c> has passed. A notification is a relay outbox delivery (one lane per group, so a resolved
/// never overtakes its firing) committed with its history rows and the group's notification log in one transaction,
/// under a non-waiting advisory lock: one notifier at a time across processes, and a pass that fails changes nothing.
/// The <c>queued</c> callback runs after notifications were committed: the relay's pump sends them at once.
/// </summary>
internal sealed partial class AlertNotifier(
    NpgsqlDataSource dataSource, AlertReceivers receivers, AlertSilences silences, Action queued, AlertsOptions options, TimeProvider time, ILogger<AlertNotifier> logger)
{
    /// <summary>An inactive group's notification log is kept this long (Alertmanager's nflog retention), then deleted.</summary>
    public static readonly TimeSpan LogRetention = TimeSpan.FromDays(5);

    public async Task<NotifyReport> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var all = await receivers.EnabledAsync(cancellationToken);
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        await using (var take = new NpgsqlCommand("select pg_try_advisory_xact_lock(hashtext('sentinel.alerts.notify'))", conn, tx))
        {
            if (await take.ExecuteScalarAsync(cancellationToken) is not true)
                return new NotifyReport(0, 0, 0);
        }

        var batch = new NpgsqlBatch(conn, tx);
        await using var disposeBatch = batch;
        int notifications = 0, alerts = 0, groupCount = 0;
        if (all.Count > 0)
        {
            var tenants = all.Select(r => r.TenantId).Distinct(StringComparer.Ordinal).ToArray();
            var firing = await FiringAsync(conn, tx, tenants, cancellationToken);
            var groups = await GroupsAsync(conn, tx, all.Select(r => r.Id).ToArray(), cancellationToken);
            var mutedBy = new Dictionary<string, IReadOnlyList<AlertSilence>>(StringComparer.Ordinal);
            foreach (var tenant in tenants)
                mutedBy[tenant] = await silences.ListAsync(tenant, includeExpired: false, cancellationToken);
            foreach (var receiver in all)
            {
                var tenantFiring = firing.GetValueOrDefault(receiver.TenantId, []);
                var inhibitors = tenantFiring.Select(f => (f.Instance, f.RuleName)).ToList();
                bool Muted(IReadOnlyDictionary<string, string> labels)
                {
                    var (silencedBy, inhibitedBy) = AlertSilences.Muting(labels, mutedBy[receiver.TenantId], inhibitors, now);
                    return silencedBy.Count > 0 || inhibitedBy is not null;
                }

                var mine = groups.Where(g => g.ReceiverId == receiver.Id).ToDictionary(g => g.Key, StringComparer.Ordinal);
                foreach (var g in mine.Values)
                    g.Interval = receiver.GroupInterval ?? options.GroupInterval;
                var wanted = new Dictionary<string, (Dictionary<string, string> Labels, List<FiringAlert> Alerts)>(StringComparer.Ordinal);
                foreach (var f in tenantFiring.Where(f => receiver.Wants(f.Instance.Labels)))
                {
                    var (key, labels) = GroupKey(receiver, f.Instance.Labels);
                    if (!wanted.TryGetValue(key, out var entry))
                        wanted[key] = entry = (labels, []);
                    entry.Alerts.Add(f);
                }

                // Alerts that stopped firing resolve in their group.
                foreach (var group in mine.Values)
                {
                    var still = wanted.TryGetValue(group.Key, out var w) ? w.Alerts.Select(a => a.Key).ToHashSet(StringComparer.Ordinal) : [];
                    foreach (var m in group.Members.Values.Where(m => m.State == AlertStates.Firing && !still.Contains(m.Key)))
                    {
                        m.State = AlertStates.Resolved;
                        m.EndsAt = now;
                        batch.BatchCommands.Add(Command("update alert_group_alerts set state = 'resolved', ends_at = $3 where group_id = $1 and alert_key = $2", group.Id, m.Key, now));
                    }
                }

                foreach (var (key, (labels, list)) in wanted)
                {
                    if (!mine.TryGetValue(key, out var group))
                        mine[key] = group = await CreateGroupAsync(conn, tx, receiver, key, labels, cancellationToken);
                    if (group.ActiveSince is null)
                    {
                        group.ActiveSince = now;
                        group.NextFlushAt = now + (receiver.GroupWait ?? options.GroupWait);
                        group.Dirty = true;
                    }

                    foreach (var f in list)
                    {
                        var member = f.ToMember();
                        if (group.Members.TryGetValue(f.Key, out var existing) && existing.State == AlertStates.Firing)
                        {
                            existing.Value = member.Value;
                            existing.Annotations = member.Annotations;
                            continue;
                        }

                        group.Members[f.Key] = member;
                        batch.BatchCommands.Add(UpsertMember(group.Id, member));
                    }
                }

                foreach (var group in mine.Values.Where(g => g.ActiveSince is not null && g.NextFlushAt <= now))
                {
                    groupCount++;
                    var sent = Flush(batch, receiver, group, Muted, receiver.RepeatInterval ?? options.RepeatInterval, now);
                    if (sent > 0)
                    {
                        notifications++;
                        alerts += sent;
                    }
                }

                foreach (var group in mine.Values.Where(g => g.Dirty))
                    batch.BatchCommands.Add(UpdateGroup(group));
            }
        }

        // Last, after this pass's group updates: inactive groups whose log has aged out (or that never notified).
        var forget = new NpgsqlBatchCommand("delete from alert_groups where active_since is null and (last_notified_at is null or last_notified_at < $1)");
        forget.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now - LogRetention });
        batch.BatchCommands.Add(forget);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
        if (notifications > 0)
        {
            LogNotified(logger, notifications, alerts);
            queued();
        }

        return new NotifyReport(groupCount, notifications, alerts);
    }

    /// <summary>Queues a test notification to a receiver (one firing alert named <c>Sentinel test notification</c>),
    /// through the outbox like any other; returns its delivery id, which the relay's deliveries API follows.</summary>
    public async Task<long> TestAsync(AlertReceiver receiver, string actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        var now = time.GetUtcNow();
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["alertname"] = "Sentinel test notification", ["severity"] = "info" };
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal) { ["summary"] = $"A test of receiver {receiver.Name}, sent by {actor}." };
        var body = AlertNotificationBody.Build(receiver.Name, receiver.Id + ":{alertname=\"Sentinel test notification\"}",
            new Dictionary<string, string>(StringComparer.Ordinal) { ["alertname"] = "Sentinel test notification" },
            [new NotificationAlert("test/" + now.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), "test", "Sentinel test notification", "info",
                AlertStates.Firing, labels, annotations, null, now, null)]);
        var webhookId = "ntf_" + Ids.NewId();
        await using var command = dataSource.CreateCommand(
            "insert into relay_deliveries (tenant_id, webhook_id, conversation_id, instance, target, operation, lane, message_at, next_attempt_at, created_at, body) " +
            "values ($1, $2, $3, $4, $5, $6, $2, $7, $7, $7, $8) returning id");
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<string> { TypedValue = receiver.TenantId });
        p.Add(new NpgsqlParameter<string> { TypedValue = webhookId });
        p.Add(new NpgsqlParameter<string> { TypedValue = "alert-test" });
        p.Add(new NpgsqlParameter<string> { TypedValue = ReceiverTargets.Instance });
        p.Add(new NpgsqlParameter<string> { TypedValue = receiver.Target });
        p.Add(new NpgsqlParameter<string> { TypedValue = ReceiverTargets.Operation });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        p.Add(new NpgsqlParameter<string> { TypedValue = body });
        var id = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        queued();
        return id;
    }

    /// <summary>
    /// One flush: Alertmanager's DedupStage.needsUpdate decides; a notification carries the unmuted firing alerts (and,
    /// with send_resolved, the unmuted resolved ones). Resolved alerts leave the group after any flush; a group left
    /// without firing alerts goes inactive (its log stays, so a returning alert is compared with what was sent).
    /// Returns how many alerts the notification carried (0: none sent).
    /// </summary>
    private static int Flush(NpgsqlBatch batch, AlertReceiver receiver, Group group, Func<IReadOnlyDictionary<string, string>, bool> muted, TimeSpan repeat, DateTimeOffset now)
    {
        var firing = group.Members.Values.Where(m => m.State == AlertStates.Firing && !muted(m.Labels)).OrderBy(m => m.StartsAt).ThenBy(m => m.Key, StringComparer.Ordinal).ToList();
        var resolved = group.Members.Values.Where(m => m.State == AlertStates.Resolved && !muted(m.Labels)).OrderBy(m => m.EndsAt).ThenBy(m => m.Key, StringComparer.Ordinal).ToList();
        var firingKeys = firing.Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        var resolvedKeys = resolved.Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        var sentCount = 0;
        if (NeedsUpdate(group, firingKeys, resolvedKeys, receiver.SendResolved, repeat, now))
        {
            var carried = receiver.SendResolved ? firing.Concat(resolved).ToList() : firing;
            if (carried.Count > 0)
            {
                batch.BatchCommands.Add(Notification(receiver, group, carried, now));
                sentCount = carried.Count;
            }

            group.LastFiring = [.. firingKeys];
            group.LastResolved = [.. resolvedKeys];
            group.LastNotifiedAt = now;
        }

        var gone = group.Members.Values.Where(m => m.State == AlertStates.Resolved).ToList();
        foreach (var m in gone)
            group.Members.Remove(m.Key);
        if (gone.Count > 0)
            batch.BatchCommands.Add(Command("delete from alert_group_alerts where group_id = $1 and state = 'resolved'", group.Id));
        if (group.Members.Count == 0)
        {
            group.ActiveSince = null;
            group.NextFlushAt = null;
        }
        else
        {
            group.NextFlushAt = now + group.Interval;
        }

        group.Dirty = true;
        return sentCount;
    }

    /// <summary>Alertmanager's <c>DedupStage.needsUpdate</c> (notify/notify.go).</summary>
    internal static bool NeedsUpdate(Group group, IReadOnlySet<string> firing, IReadOnlySet<string> resolved, bool sendResolved, TimeSpan repeat, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(firing);
        ArgumentNullException.ThrowIfNull(resolved);
        if (group.LastNotifiedAt is not { } last)
            return firing.Count > 0;
        if (!firing.All(group.LastFiring.Contains))
            return true;
        if (firing.Count == 0)
            return group.LastFiring.Length > 0;
        if (sendResolved && !resolved.All(group.LastResolved.Contains))
            return true;
        return last <= now - repeat;
    }

    private static (string Key, Dictionary<string, string> Labels) GroupKey(AlertReceiver receiver, IReadOnlyDictionary<string, string> labels)
    {
        var picked = receiver.GroupBy.Contains("...")
            ? new Dictionary<string, string>(labels, StringComparer.Ordinal)
            : receiver.GroupBy.Where(labels.ContainsKey).ToDictionary(l => l, l => labels[l], StringComparer.Ordinal);
        var key = new StringBuilder("{");
        foreach (var (name, value) in picked.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (key.Length > 1)
                key.Append(',');
            key.Append(name).Append("=\"").Append(value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
        }

        return (key.Append('}').ToString(), picked);
    }

    private static NpgsqlBatchCommand Notification(AlertReceiver receiver, Group group, List<Member> carried, DateTimeOffset now)
    {
        var groupKey = receiver.Id + ":" + group.Key;
        var alerts = carried.Select(m => new NotificationAlert(m.Key, m.RuleId, m.RuleName, m.Severity, m.State, m.Labels, m.Annotations, m.Value, m.StartsAt, m.EndsAt)).ToList();
        var body = AlertNotificationBody.Build(receiver.Name, groupKey, group.Labels, alerts);
        var firing = carried.Count(m => m.State == AlertStates.Firing);
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"notified {receiver.Name} ({receiver.Kind}) for group {group.Key}: {firing} firing, {carried.Count - firing} resolved");
        var lane = "alert-group:" + group.Id.ToString(CultureInfo.InvariantCulture);
        var command = new NpgsqlBatchCommand(
            """
            with d as (
                insert into relay_deliveries (tenant_id, webhook_id, conversation_id, instance, target, operation, lane, message_at, next_attempt_at, created_at, body)
                values ($1, $2, $3, $4, $5, $6, $3, $7, $7, $7, $8) returning id)
            insert into alert_history (tenant_id, rule_id, rule_name, fingerprint, labels, from_state, to_state, value, summary, at, kind, receiver_id, delivery_id)
            select $1, a.rule_id, a.rule_name, a.fingerprint, a.labels::jsonb, a.state, a.state, a.value, $9, $7, 'notification', $10, d.id
            from d cross join unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::float8[]) as a(rule_id, rule_name, fingerprint, labels, state, value)
            """);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<string> { TypedValue = receiver.TenantId });
        p.Add(new NpgsqlParameter<string> { TypedValue = "ntf_" + Ids.NewId() });
        p.Add(new NpgsqlParameter<string> { TypedValue = lane });
        p.Add(new NpgsqlParameter<string> { TypedValue = ReceiverTargets.Instance });
        p.Add(new NpgsqlParameter<string> { TypedValue = receiver.Target });
        p.Add(new NpgsqlParameter<string> { TypedValue = ReceiverTargets.Operation });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        p.Add(new NpgsqlParameter<string> { TypedValue = body });
        p.Add(new NpgsqlParameter<string> { TypedValue = summary });
        p.Add(new NpgsqlParameter<string> { TypedValue = receiver.Id });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. carried.Select(m => m.RuleId)] });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. carried.Select(m => m.RuleName)] });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. carried.Select(m => m.Key[(m.Key.IndexOf('/', StringComparison.Ordinal) + 1)..])] });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. carried.Select(m => Json(m.Labels))] });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. carried.Select(m => m.State)] });
        p.Add(new NpgsqlParameter<double?[]> { TypedValue = [.. carried.Select(m => m.Value)] });
        return command;
    }

    private static async Task<Dictionary<string, List<FiringAlert>>> FiringAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string[] tenants, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            """
            select i.rule_id, i.fingerprint, i.tenant_id, i.labels, i.active_at, i.fired_at, i.last_true_at, i.evaluated_at, i.value, r.name, r.severity, r.annotations
            from alert_instances i join alert_rules r on r.id = i.rule_id and r.tenant_id = i.tenant_id
            where i.state = 'firing' and i.tenant_id = any($1)
            """, conn, tx);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tenants });
        var map = new Dictionary<string, List<FiringAlert>>(StringComparer.Ordinal);
        await using var r = await command.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var labels = Map(r.GetString(3));
            var value = r.IsDBNull(8) ? (double?)null : r.GetDouble(8);
            var instance = new AlertInstance(r.GetString(0), r.GetString(1), r.GetString(2), labels, AlertStates.Firing, r.GetFieldValue<DateTimeOffset>(4),
                r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5), r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7), value);
            var annotations = Map(r.GetString(11)).ToDictionary(kv => kv.Key, kv => AlertTemplates.Expand(kv.Value, labels, value), StringComparer.Ordinal);
            if (!map.TryGetValue(instance.TenantId, out var list))
                map[instance.TenantId] = list = [];
            list.Add(new FiringAlert(instance, r.GetString(9), r.GetString(10), annotations));
        }

        return map;
    }

    private static async Task<List<Group>> GroupsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string[] receiverIds, CancellationToken ct)
    {
        var groups = new Dictionary<long, Group>();
        await using (var command = new NpgsqlCommand(
            "select id, receiver_id, group_key, labels, active_since, next_flush_at, last_notified_at, last_firing, last_resolved from alert_groups where receiver_id = any($1) for update", conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = receiverIds });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                groups[r.GetInt64(0)] = new Group(r.GetInt64(0), r.GetString(1), r.GetString(2), Map(r.GetString(3)))
                {
                    ActiveSince = r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4),
                    NextFlushAt = r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5),
                    LastNotifiedAt = r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6),
                    LastFiring = r.GetFieldValue<string[]>(7),
                    LastResolved = r.GetFieldValue<string[]>(8),
                };
            }
        }

        await using (var command = new NpgsqlCommand(
            "select group_id, alert_key, rule_id, rule_name, severity, labels, annotations, value, starts_at, ends_at, state from alert_group_alerts where group_id = any($1)", conn, tx))
        {
            command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. groups.Keys] });
            await using var r = await command.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var m = new Member(r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), Map(r.GetString(5)), r.GetFieldValue<DateTimeOffset>(8))
                {
                    Annotations = Map(r.GetString(6)),
                    Value = r.IsDBNull(7) ? null : r.GetDouble(7),
                    EndsAt = r.IsDBNull(9) ? null : r.GetFieldValue<DateTimeOffset>(9),
                    State = r.GetString(10),
                };
                groups[r.GetInt64(0)].Members[m.Key] = m;
            }
        }

        return [.. groups.Values];
    }

    private async Task<Group> CreateGroupAsync(NpgsqlConnection conn, NpgsqlTransaction tx, AlertReceiver receiver, string key, Dictionary<string, string> labels, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "insert into alert_groups (tenant_id, receiver_id, group_key, labels) values ($1, $2, $3, $4) returning id", conn, tx);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = receiver.TenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = receiver.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        command.Parameters.Add(new NpgsqlParameter { Value = Json(labels), NpgsqlDbType = NpgsqlDbType.Jsonb });
        var id = (long)(await command.ExecuteScalarAsync(ct))!;
        return new Group(id, receiver.Id, key, labels) { Interval = receiver.GroupInterval ?? options.GroupInterval };
    }

    private static NpgsqlBatchCommand UpsertMember(long groupId, Member m)
    {
        var command = new NpgsqlBatchCommand(
            """
            insert into alert_group_alerts (group_id, alert_key, rule_id, rule_name, severity, labels, annotations, value, starts_at, ends_at, state)
            values ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, null, 'firing')
            on conflict (group_id, alert_key) do update set labels = excluded.labels, annotations = excluded.annotations, value = excluded.value,
                starts_at = excluded.starts_at, ends_at = null, state = 'firing', rule_name = excluded.rule_name, severity = excluded.severity
            """);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<long> { TypedValue = groupId });
        p.Add(new NpgsqlParameter<string> { TypedValue = m.Key });
        p.Add(new NpgsqlParameter<string> { TypedValue = m.RuleId });
        p.Add(new NpgsqlParameter<string> { TypedValue = m.RuleName });
        p.Add(new NpgsqlParameter<string> { TypedValue = m.Severity });
        p.Add(new NpgsqlParameter<string> { TypedValue = Json(m.Labels) });
        p.Add(new NpgsqlParameter<string> { TypedValue = Json(m.Annotations) });
        p.Add(new NpgsqlParameter { Value = (object?)m.Value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Double });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = m.StartsAt });
        return command;
    }

    private static NpgsqlBatchCommand UpdateGroup(Group g)
    {
        var command = new NpgsqlBatchCommand(
            "update alert_groups set active_since = $2, next_flush_at = $3, last_notified_at = $4, last_firing = $5, last_resolved = $6 where id = $1");
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<long> { TypedValue = g.Id });
        p.Add(new NpgsqlParameter { Value = (object?)g.ActiveSince ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter { Value = (object?)g.NextFlushAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter { Value = (object?)g.LastNotifiedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = g.LastFiring });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = g.LastResolved });
        return command;
    }

    private static NpgsqlBatchCommand Command(string sql, long groupId, string? key = null, DateTimeOffset? at = null)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = groupId });
        if (key is not null)
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        if (at is { } t)
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = t });
        return command;
    }

    private static Dictionary<string, string> Map(string json) =>
        JsonSerializer.Deserialize(json, AlertsJsonContext.Default.DictionaryStringString) ?? [];

    private static string Json(IReadOnlyDictionary<string, string> map) =>
        JsonSerializer.Serialize(new Dictionary<string, string>(map), AlertsJsonContext.Default.DictionaryStringString);

    [LoggerMessage(EventId = 8020, Level = LogLevel.Information, Message = "Alert notifications queued: {Notifications} notifications carrying {Alerts} alerts")]
    private static partial void LogNotified(ILogger logger, int notifications, int alerts);

    /// <summary>A firing alert as the notifier reads it: the instance, its rule, and its annotations expanded.</summary>
    private sealed record FiringAlert(AlertInstance Instance, string RuleName, string Severity, Dictionary<string, string> Annotations)
    {
        public string Key => Instance.RuleId + "/" + Instance.Fingerprint;

        public Member ToMember() =>
            new(Key, Instance.RuleId, RuleName, Severity, Instance.Labels, Instance.FiredAt ?? Instance.ActiveAt) { Annotations = Annotations, Value = Instance.Value };
    }

    /// <summary>An alert in a group.</summary>
    internal sealed class Member(string key, string ruleId, string ruleName, string severity, IReadOnlyDictionary<string, string> labels, DateTimeOffset startsAt)
    {
        public string Key => key;

        public string RuleId => ruleId;

        public string RuleName => ruleName;

        public string Severity => severity;

        public IReadOnlyDictionary<string, string> Labels => labels;

        public DateTimeOffset StartsAt => startsAt;

        public IReadOnlyDictionary<string, string> Annotations { get; set; } = new Dictionary<string, string>();

        public double? Value { get; set; }

        public DateTimeOffset? EndsAt { get; set; }

        public string State { get; set; } = AlertStates.Firing;
    }

    /// <summary>An aggregation group and its notification log.</summary>
    internal sealed class Group(long id, string receiverId, string key, IReadOnlyDictionary<string, string> labels)
    {
        public long Id => id;

        public string ReceiverId => receiverId;

        public string Key => key;

        public IReadOnlyDictionary<string, string> Labels => labels;

        public Dictionary<string, Member> Members { get; } = new(StringComparer.Ordinal);

        public DateTimeOffset? ActiveSince { get; set; }

        public DateTimeOffset? NextFlushAt { get; set; }

        public DateTimeOffset? LastNotifiedAt { get; set; }

        public string[] LastFiring { get; set; } = [];

        public string[] LastResolved { get; set; } = [];

        public TimeSpan Interval { get; set; }

        public bool Dirty { get; set; }
    }
}
