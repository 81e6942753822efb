using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Identity;
using Sentinel.Core.Monitoring;
using Sentinel.Core.Relay;

namespace Sentinel.Core.Alerts;

/// <summary>The kinds of notification receiver.</summary>
internal static class ReceiverKinds
{
    /// <summary>An n8n Webhook node: Alertmanager's webhook JSON, signed (Standard Webhooks).</summary>
    public const string N8n = "n8n";

    /// <summary>Any HTTP endpoint: Alertmanager's webhook JSON (version 4), signed (Standard Webhooks).</summary>
    public const string Webhook = "webhook";

    /// <summary>A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Discord's /slack): text and attachments.</summary>
    public const string Slack = "slack";

    /// <summary>A private note in one Chatwoot conversation, through a relay route's Chatwoot account: the human team sees it, the customer never does.</summary>
    public const string Chatwoot = "chatwoot";

    public static readonly IReadOnlyList<string> All = [N8n, Webhook, Slack, Chatwoot];
}

/// <summary>Where a tenant's alerts are sent, which alerts (matchers on alert labels; all when empty), and how they are
/// grouped (null durations: the <see cref="AlertsOptions"/> defaults).</summary>
internal sealed record AlertReceiver(
    string Id, string TenantId, string Name, string Kind, string? Url, string? SigningSecret, string? ChatwootInstance, long? ChatwootConversationId,
    IReadOnlyList<string> Matchers, IReadOnlyList<string> GroupBy, TimeSpan? GroupWait, TimeSpan? GroupInterval, TimeSpan? RepeatInterval,
    bool SendResolved, bool Enabled, string? DisabledReason, int Version, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    private readonly LabelMatcher[] _parsed = [.. Matchers.Select(m => LabelMatcher.TryParse(m, out var parsed) ? parsed! : null).OfType<LabelMatcher>()];

    /// <summary>The outbox target of its deliveries.</summary>
    public string Target => ReceiverTargets.Prefix + Id;

    public bool Wants(IReadOnlyDictionary<string, string> labels) => _parsed.All(m => AlertSilences.Matches(m, labels));
}

/// <summary>What a caller sends to create or replace a receiver.</summary>
internal sealed record AlertReceiverDraft(
    string? Name, string? Kind, string? Url, string? ChatwootInstance, long? ChatwootConversationId, IReadOnlyList<string>? Matchers,
    IReadOnlyList<string>? GroupBy, string? GroupWait, string? GroupInterval, string? RepeatInterval, bool? SendResolved, bool? Enabled);

/// <summary>How notification deliveries are told apart in the relay outbox.</summary>
internal static class ReceiverTargets
{
    /// <summary>The outbox's <c>instance</c> of every notification delivery.</summary>
    public const string Instance = "alerts";

    /// <summary>The outbox's <c>operation</c> of a notification.</summary>
    public const string Operation = "notify";

    /// <summary>The outbox's <c>target</c> is this and the receiver's id.</summary>
    public const string Prefix = "receiver:";
}

/// <summary>Receivers, tenant-scoped: CRUD with a version (the ETag) guarding lost updates; disabled on a 410 Gone.</summary>
internal sealed class AlertReceivers(NpgsqlDataSource dataSource, TimeProvider time)
{
    public const int MaxPerTenant = 50;
    public const int MaxGroupBy = 10;
    private const string Columns =
        "id, tenant_id, name, kind, url, signing_secret, chatwoot_instance, chatwoot_conversation_id, matchers, group_by, group_wait_seconds, " +
        "group_interval_seconds, repeat_interval_seconds, send_resolved, enabled, disabled_reason, version, created_at, updated_at";

    public static Outcome<AlertReceiver> Validate(AlertReceiverDraft draft, string id, string tenantId, string? secret, int version, DateTimeOffset createdAt, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(draft);
        var name = draft.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100 || name.Any(char.IsControl))
            return Invalid("name", "name is required: 1–100 printable characters.");
        if (draft.Kind is not { } kind || !ReceiverKinds.All.Contains(kind))
            return Invalid("kind", "kind is one of n8n, webhook, slack, chatwoot.");
        string? url = null, instance = null;
        long? conversation = null;
        if (kind == ReceiverKinds.Chatwoot)
        {
            if (string.IsNullOrWhiteSpace(draft.ChatwootInstance) || draft.ChatwootInstance.Length > 100)
                return Invalid("chatwootInstance", "chatwootInstance names the relay route (its Evolution instance) whose Chatwoot account posts the note.");
            if (draft.ChatwootConversationId is not > 0)
                return Invalid("chatwootConversationId", "chatwootConversationId is the Chatwoot conversation the team watches for alerts (a positive number).");
            (instance, conversation) = (draft.ChatwootInstance, draft.ChatwootConversationId);
        }
        else
        {
            if (draft.Url is not { Length: <= 2048 } u || !Uri.TryCreate(u, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(parsed.UserInfo))
                return Invalid("url", "url is an absolute http(s) URL without credentials, at most 2048 characters.");
            url = u;
        }

        var matchers = draft.Matchers ?? [];
        if (matchers.Count > 20)
            return Invalid("matchers", "At most 20 matchers.");
        foreach (var m in matchers)
        {
            if (m is null || !LabelMatcher.TryParse(m, out var parsed))
                return Invalid("matchers", $"'{m}' is not a label matcher (name=value, name!=value, name=~regex, name!~regex).");
            if (parsed!.Op.EndsWith('~') && !AlertSilences.IsRegex(parsed.Value))
                return Invalid("matchers", $"The regular expression in '{m}' is not valid.");
        }

        var groupBy = draft.GroupBy ?? ["alertname"];
        if (groupBy.Count > MaxGroupBy || groupBy.Any(l => l != "..." && !MetricRules.IsLabelName(l)) || groupBy.Distinct(StringComparer.Ordinal).Count() != groupBy.Count)
            return Invalid("groupBy", $"groupBy is up to {MaxGroupBy} distinct label names, or [\"...\"] for one group per alert.");
        if (!Duration(draft.GroupWait, TimeSpan.Zero, TimeSpan.FromHours(1), out var wait))
            return Invalid("groupWait", "groupWait is a duration from 0s to 1h (default 30s).");
        if (!Duration(draft.GroupInterval, TimeSpan.FromSeconds(10), TimeSpan.FromDays(1), out var interval))
            return Invalid("groupInterval", "groupInterval is a duration from 10s to 24h (default 5m).");
        if (!Duration(draft.RepeatInterval, TimeSpan.FromMinutes(1), TimeSpan.FromDays(7), out var repeat))
            return Invalid("repeatInterval", "repeatInterval is a duration from 1m to 7d (default 4h).");
        var secretOut = kind is ReceiverKinds.N8n or ReceiverKinds.Webhook ? secret ?? RelayRouteStore.NewSigningSecret() : null;
        return new AlertReceiver(id, tenantId, name, kind, url, secretOut, instance, conversation, [.. matchers], [.. groupBy], wait, interval, repeat,
            draft.SendResolved ?? true, draft.Enabled ?? true, null, version, createdAt, now);
    }

    public async Task<IReadOnlyList<AlertReceiver>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from alert_receivers where tenant_id = $1 order by name");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>Every tenant's enabled receivers (the notifier's view).</summary>
    public async Task<IReadOnlyList<AlertReceiver>> EnabledAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from alert_receivers where enabled order by tenant_id, name");
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<AlertReceiver?> GetAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from alert_receivers where tenant_id = $1 and id = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        var found = await ReadAsync(command, cancellationToken);
        return found.Count > 0 ? found[0] : null;
    }

    public async Task<Outcome<AlertReceiver>> CreateAsync(string tenantId, AlertReceiverDraft draft, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var validated = Validate(draft, "rcv_" + Ids.NewId(), tenantId, null, 1, now, now);
        if (!validated.Succeeded)
            return validated;
        var receiver = validated.Value!;
        await using var command = dataSource.CreateCommand(
            $"insert into alert_receivers ({Columns}) select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 " +
            $"where (select count(*) from alert_receivers where tenant_id = $2) < {MaxPerTenant} on conflict (tenant_id, name) do nothing");
        Add(command, receiver);
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
            return receiver;
        return (await ListAsync(tenantId, cancellationToken)).Any(r => r.Name == receiver.Name)
            ? NameTaken(receiver.Name)
            : new Failure(FailureKind.Conflict, "limit-reached", "Limit reached", $"A tenant has at most {MaxPerTenant} receivers.");
    }

    /// <summary>Replaces a receiver (its id and signing secret stay). Saving it enables it again after a 410.</summary>
    public async Task<Outcome<AlertReceiver>> UpdateAsync(string tenantId, string id, AlertReceiverDraft draft, int? expectedVersion, CancellationToken cancellationToken)
    {
        if (await GetAsync(tenantId, id, cancellationToken) is not { } current)
            return NotFound(id);
        if (expectedVersion is { } expected && expected != current.Version)
            return EditConflict(current);
        var validated = Validate(draft, id, tenantId, current.SigningSecret, current.Version + 1, current.CreatedAt, time.GetUtcNow());
        if (!validated.Succeeded)
            return validated;
        var receiver = validated.Value!;
        await using var command = dataSource.CreateCommand(
            "update alert_receivers set name = $3, kind = $4, url = $5, signing_secret = $6, chatwoot_instance = $7, chatwoot_conversation_id = $8, matchers = $9, " +
            "group_by = $10, group_wait_seconds = $11, group_interval_seconds = $12, repeat_interval_seconds = $13, send_resolved = $14, enabled = $15, " +
            "disabled_reason = $16, version = $17, updated_at = $19 where id = $1 and tenant_id = $2 and version = $17 - 1");
        Add(command, receiver);
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1 ? receiver : EditConflict(current);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return NameTaken(receiver.Name);
        }
    }

    /// <summary>Deletes a receiver and its groups; notifications already in the outbox are dead-lettered by the sender.</summary>
    public async Task<Outcome<bool>> DeleteAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(Command("delete from alert_group_alerts where group_id in (select id from alert_groups where tenant_id = $1 and receiver_id = $2)", tenantId, id));
        batch.BatchCommands.Add(Command("delete from alert_groups where tenant_id = $1 and receiver_id = $2", tenantId, id));
        batch.BatchCommands.Add(Command("delete from alert_receivers where tenant_id = $1 and id = $2", tenantId, id));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        var deleted = batch.BatchCommands[2].RecordsAffected;
        await tx.CommitAsync(cancellationToken);
        return deleted == 1 ? true : NotFound(id);
    }

    /// <summary>Disables a receiver that answered 410 Gone (saving it again enables it).</summary>
    public async Task DisableAsync(string tenantId, string id, string reason, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("update alert_receivers set enabled = false, disabled_reason = $3, version = version + 1 where tenant_id = $1 and id = $2 and enabled");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reason });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlBatchCommand Command(string sql, params string[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var v in values)
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = v });
        return command;
    }

    private static bool Duration(string? text, TimeSpan min, TimeSpan max, out TimeSpan? duration)
    {
        duration = null;
        if (text is null)
            return true;
        if (!AlertRules.TryDuration(text, out var d) || d < min || d > max)
            return false;
        duration = d;
        return true;
    }

    private static void Add(NpgsqlCommand command, AlertReceiver r)
    {
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<string> { TypedValue = r.Id });
        p.Add(new NpgsqlParameter<string> { TypedValue = r.TenantId });
        p.Add(new NpgsqlParameter<string> { TypedValue = r.Name });
        p.Add(new NpgsqlParameter<string> { TypedValue = r.Kind });
        p.Add(new NpgsqlParameter { Value = (object?)r.Url ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)r.SigningSecret ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)r.ChatwootInstance ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter { Value = (object?)r.ChatwootConversationId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        p.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(r.Matchers.ToList(), AlertsJsonContext.Default.ListString), NpgsqlDbType = NpgsqlDbType.Jsonb });
        p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. r.GroupBy] });
        p.Add(Seconds(r.GroupWait));
        p.Add(Seconds(r.GroupInterval));
        p.Add(Seconds(r.RepeatInterval));
        p.Add(new NpgsqlParameter<bool> { TypedValue = r.SendResolved });
        p.Add(new NpgsqlParameter<bool> { TypedValue = r.Enabled });
        p.Add(new NpgsqlParameter { Value = (object?)r.DisabledReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter<int> { TypedValue = r.Version });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = r.CreatedAt });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = r.UpdatedAt });
    }

    private static NpgsqlParameter Seconds(TimeSpan? d) =>
        new() { Value = d is { } v ? (int)v.TotalSeconds : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer };

    private static async Task<IReadOnlyList<AlertReceiver>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var list = new List<AlertReceiver>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new AlertReceiver(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), S(r, 4), S(r, 5), S(r, 6), r.IsDBNull(7) ? null : r.GetInt64(7),
                JsonSerializer.Deserialize(r.GetString(8), AlertsJsonContext.Default.ListString) ?? [], r.GetFieldValue<string[]>(9),
                Span(r, 10), Span(r, 11), Span(r, 12), r.GetBoolean(13), r.GetBoolean(14), S(r, 15), r.GetInt32(16),
                r.GetFieldValue<DateTimeOffset>(17), r.GetFieldValue<DateTimeOffset>(18)));
        }

        return list;
    }

    private static string? S(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static TimeSpan? Span(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : TimeSpan.FromSeconds(r.GetInt32(i));

    private static Failure Invalid(string field, string detail) => new(FailureKind.Invalid, "validation-failed", $"Invalid {field}", detail);

    private static Failure NotFound(string id) => new(FailureKind.NotFound, "not-found", "No such receiver", $"This tenant has no alert receiver '{id}'.");

    private static Failure NameTaken(string name) => new(FailureKind.Conflict, "receiver-name-taken", "Name taken", $"This tenant already has a receiver named '{name}'.");

    private static Failure EditConflict(AlertReceiver current) =>
        new(FailureKind.Conflict, "edit-conflict", "Edited meanwhile", $"The receiver changed since it was read (now version {current.Version}); read it again and re-apply the change.");
}
