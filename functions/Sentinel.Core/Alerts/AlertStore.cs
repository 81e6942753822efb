using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;
using NpgsqlTypes;
using Sentinel.Core.Identity;

namespace Sentinel.Core.Alerts;

/// <summary>A state change or a notification (<see cref="Kind"/> <c>state</c> | <c>notification</c>) as the history API
/// shows it; a notification names its receiver and its relay delivery, with that delivery's state now (pending,
/// delivered, dead).</summary>
internal sealed record AlertChange(long Id, string RuleId, string RuleName, string Fingerprint, IReadOnlyDictionary<string, string> Labels,
    string From, string To, double? Value, string? Summary, DateTimeOffset At, string Kind = "state", string? ReceiverId = null, long? DeliveryId = null,
    string? DeliveryState = null);

/// <summary>Filters of the history API; all optional.</summary>
internal sealed record AlertHistoryQuery(string? RuleId, string? State, DateTimeOffset? From, DateTimeOffset? To, long? Before, int Limit, string? Kind = null);

/// <summary>
/// Alert rules, live instances and history in PostgreSQL; every statement is scoped by tenant. Rules are versioned:
/// an update names the version it read (409 on a lost race, as the directory does with ETags).
/// </summary>
internal sealed class AlertStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> _seeded = new(StringComparer.Ordinal);
    private long _generation;

    /// <summary>Bumped by every rule write in this process: caches of rules compare it to know they are stale.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    private void Changed() => Interlocked.Increment(ref _generation);

    private const string RuleColumns = "id, tenant_id, name, metric, matchers, aggregation, window_seconds, op, threshold, for_seconds, keep_firing_for_seconds, severity, labels, annotations, enabled, version, created_at, updated_at";

    public async Task<IReadOnlyList<AlertRule>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {RuleColumns} from alert_rules where tenant_id = $1 order by name");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        return await ReadRulesAsync(command, cancellationToken);
    }

    /// <summary>Enabled rules of every tenant (the evaluator's work list), or of one.</summary>
    public async Task<IReadOnlyList<AlertRule>> EnabledAsync(string? tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {RuleColumns} from alert_rules where enabled and ($1::text is null or tenant_id = $1) order by tenant_id, id");
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await ReadRulesAsync(command, cancellationToken);
    }

    public async Task<AlertRule?> GetAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {RuleColumns} from alert_rules where tenant_id = $1 and id = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        var list = await ReadRulesAsync(command, cancellationToken);
        return list.Count > 0 ? list[0] : null;
    }

    public async Task<Outcome<AlertRule>> CreateAsync(string tenantId, AlertRuleDraft draft, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var validated = AlertRules.Validate(draft, "r_" + Ids.NewId(), tenantId, 1, now, now);
        if (!validated.Succeeded)
            return validated;
        var rule = validated.Value!;
        await using var command = dataSource.CreateCommand(
            $"""
            insert into alert_rules ({RuleColumns})
            select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
            where (select count(*) from alert_rules where tenant_id = $2) < {AlertRules.MaxRulesPerTenant}
            on conflict (tenant_id, name) do nothing
            """);
        AddRule(command, rule);
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
        {
            Changed();
            return rule;
        }

        await using var taken = dataSource.CreateCommand("select exists (select 1 from alert_rules where tenant_id = $1 and name = $2)");
        taken.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        taken.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Name });
        return await taken.ExecuteScalarAsync(cancellationToken) is true
            ? NameTaken(rule.Name)
            : new Failure(FailureKind.Conflict, "limit-reached", "Limit reached", $"A tenant has at most {AlertRules.MaxRulesPerTenant} alert rules.");
    }

    /// <summary>Replaces a rule. <paramref name="expectedVersion"/> (the version the caller read) guards lost updates.
    /// A changed condition starts its instances over: they are dropped and recorded as inactive.</summary>
    public async Task<Outcome<AlertRule>> UpdateAsync(string tenantId, string id, AlertRuleDraft draft, int? expectedVersion, CancellationToken cancellationToken)
    {
        var current = await GetAsync(tenantId, id, cancellationToken);
        if (current is null)
            return NotFound(id);
        if (expectedVersion is { } v && v != current.Version)
            return new Failure(FailureKind.Conflict, "edit-conflict", "The rule changed", $"The rule is at version {current.Version}, not {v}; read it again and retry.");
        var validated = AlertRules.Validate(draft, id, tenantId, current.Version + 1, current.CreatedAt, time.GetUtcNow());
        if (!validated.Succeeded)
            return validated;
        var rule = validated.Value!;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand(
            """
            update alert_rules set name = $3, metric = $4, matchers = $5, aggregation = $6, window_seconds = $7, op = $8, threshold = $9,
                for_seconds = $10, keep_firing_for_seconds = $11, severity = $12, labels = $13, annotations = $14, enabled = $15,
                version = $16, updated_at = $18
            where id = $1 and tenant_id = $2 and version = $16 - 1
            """, connection, tx))
        {
            AddRule(update, rule);
            try
            {
                if (await update.ExecuteNonQueryAsync(cancellationToken) == 0)
                    return new Failure(FailureKind.Conflict, "edit-conflict", "The rule changed", "The rule was changed by someone else meanwhile; read it again and retry.");
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                return NameTaken(rule.Name);
            }
        }

        if (ConditionChanged(current, rule))
            await ClearInstancesAsync(connection, tx, current, rule.UpdatedAt, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        Changed();
        return rule;
    }

    public async Task<Outcome<bool>> DeleteAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        var current = await GetAsync(tenantId, id, cancellationToken);
        if (current is null)
            return NotFound(id);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await ClearInstancesAsync(connection, tx, current, time.GetUtcNow(), cancellationToken);
        await using (var delete = new NpgsqlCommand("delete from alert_rules where id = $1 and tenant_id = $2", connection, tx))
        {
            delete.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
            delete.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        Changed();
        return true;
    }

    /// <summary>
    /// Creates the built-in rules (<see cref="AlertBuiltins"/>) for <paramref name="tenantId"/>, or for every tenant with
    /// agents or relay deliveries when null, unless that tenant already got this version of the set. Names already in use
    /// are skipped, and a built-in the tenant deleted is not created again.
    /// </summary>
    public async Task<int> EnsureBuiltinsAsync(string? tenantId, CancellationToken cancellationToken)
    {
        // Listing a tenant's rules asks on every request; once seeded (by anyone) the answer never changes.
        if (tenantId is not null && _seeded.ContainsKey(tenantId))
            return 0;
        var tenants = new List<string>();
        await using (var find = dataSource.CreateCommand(
            """
            select t.tenant_id from (
                select $1::text as tenant_id where $1::text is not null
                union select distinct tenant_id from agents where $1::text is null
                union select distinct tenant_id from relay_deliveries where $1::text is null and state = 'dead') t
            where not exists (select 1 from alert_tenants a where a.tenant_id = t.tenant_id and a.builtins_version >= $2)
            """))
        {
            find.Parameters.Add(new NpgsqlParameter { Value = (object?)tenantId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            find.Parameters.Add(new NpgsqlParameter<int> { TypedValue = AlertBuiltins.Version });
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                tenants.Add(reader.GetString(0));
        }

        var created = 0;
        foreach (var tenant in tenants)
        {
            var now = time.GetUtcNow();
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            await using (var claim = new NpgsqlCommand(
                """
                insert into alert_tenants (tenant_id, builtins_version, seeded_at) values ($1, $2, $3)
                on conflict (tenant_id) do update set builtins_version = excluded.builtins_version, seeded_at = excluded.seeded_at
                where alert_tenants.builtins_version < excluded.builtins_version
                """, connection, tx))
            {
                claim.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
                claim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = AlertBuiltins.Version });
                claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
                // Another instance seeded it meanwhile.
                if (await claim.ExecuteNonQueryAsync(cancellationToken) == 0)
                    continue;
            }

            foreach (var draft in AlertBuiltins.All)
            {
                var rule = AlertRules.Validate(draft, "r_" + Ids.NewId(), tenant, 1, now, now).Value
                    ?? throw new InvalidOperationException($"Built-in rule '{draft.Name}' is invalid.");
                await using var insert = new NpgsqlCommand($"insert into alert_rules ({RuleColumns}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) on conflict (tenant_id, name) do nothing", connection, tx);
                AddRule(insert, rule);
                created += await insert.ExecuteNonQueryAsync(cancellationToken);
            }

            await tx.CommitAsync(cancellationToken);
            Changed();
        }

        foreach (var tenant in tenants)
            _seeded.TryAdd(tenant, true);
        if (tenantId is not null)
            _seeded.TryAdd(tenantId, true);
        return created;
    }

    /// <summary>
    /// One evaluation of one rule, serialized across processes: under a transaction-scoped advisory lock on the rule
    /// (taken without waiting — if another instance is evaluating it right now, this one skips and returns null; that
    /// evaluation sees the same samples), reads the rule's instances, lets <paramref name="compute"/> step them, and
    /// stores the result with a history row per change in the same transaction. So the timer and post-ingest
    /// evaluation on different instances never record one change twice.
    /// </summary>
    public async Task<IReadOnlyList<AlertStep>?> EvaluateLockedAsync(AlertRule rule, Func<Dictionary<string, AlertInstance>, Task<List<AlertStep>>> compute,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(compute);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("select pg_try_advisory_xact_lock(hashtextextended('alert-rule:' || $1, 0))", connection, tx))
        {
            lockCommand.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Id });
            if (await lockCommand.ExecuteScalarAsync(cancellationToken) is not true)
                return null;
        }

        var steps = await compute(await InstancesAsync(connection, tx, rule.Id, cancellationToken));
        await ApplyAsync(connection, tx, rule, steps, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return steps;
    }

    /// <summary>A rule's live instances.</summary>
    private static async Task<Dictionary<string, AlertInstance>> InstancesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string ruleId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "select rule_id, fingerprint, tenant_id, labels, state, active_at, fired_at, last_true_at, evaluated_at, value from alert_instances where rule_id = $1", connection, tx);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ruleId });
        var result = new Dictionary<string, AlertInstance>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var instance = ReadInstance(reader);
            result[instance.Fingerprint] = instance;
        }

        return result;
    }

    /// <summary>A tenant's pending and firing instances with their rule, most recent first.</summary>
    public async Task<IReadOnlyList<(AlertInstance Instance, string RuleName, string Severity)>> ActiveAsync(string tenantId, string? state, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            select i.rule_id, i.fingerprint, i.tenant_id, i.labels, i.state, i.active_at, i.fired_at, i.last_true_at, i.evaluated_at, i.value, r.name, r.severity
            from alert_instances i join alert_rules r on r.id = i.rule_id and r.tenant_id = i.tenant_id
            where i.tenant_id = $1 and ($2::text is null or i.state = $2)
            order by i.active_at desc limit 1000
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)state ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var list = new List<(AlertInstance, string, string)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            list.Add((ReadInstance(reader), reader.GetString(10), reader.GetString(11)));
        return list;
    }

    /// <summary>Stores one evaluation of one rule: instance rows as the steps leave them and a history row per change.</summary>
    private static async Task ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction tx, AlertRule rule, List<AlertStep> steps, CancellationToken cancellationToken)
    {
        if (steps.Count == 0)
            return;
        await using var batch = new NpgsqlBatch(connection, tx);
        foreach (var step in steps)
        {
            if (step.Next is { } next)
            {
                var upsert = new NpgsqlBatchCommand(
                    """
                    insert into alert_instances (rule_id, fingerprint, tenant_id, labels, state, active_at, fired_at, last_true_at, evaluated_at, value)
                    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                    on conflict (rule_id, fingerprint) do update set labels = excluded.labels, state = excluded.state, active_at = excluded.active_at,
                        fired_at = excluded.fired_at, last_true_at = excluded.last_true_at, evaluated_at = excluded.evaluated_at, value = excluded.value
                    """);
                upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = next.RuleId });
                upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = next.Fingerprint });
                upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = next.TenantId });
                upsert.Parameters.Add(new NpgsqlParameter { Value = Json(next.Labels), NpgsqlDbType = NpgsqlDbType.Jsonb });
                upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = next.State });
                upsert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = next.ActiveAt });
                upsert.Parameters.Add(new NpgsqlParameter { Value = (object?)next.FiredAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                upsert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = next.LastTrueAt });
                upsert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = next.EvaluatedAt });
                upsert.Parameters.Add(new NpgsqlParameter { Value = (object?)next.Value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Double });
                batch.BatchCommands.Add(upsert);
            }
            else if (step.From != AlertStates.Inactive)
            {
                batch.BatchCommands.Add(DeleteInstance(rule.Id, step.Fingerprint));
            }

            if (step.Changed)
                batch.BatchCommands.Add(History(rule, step.Fingerprint, step.Labels, step.From, step.To, step.Value, step.At));
        }

        if (batch.BatchCommands.Count > 0)
            await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes history older than <paramref name="retention"/> and silences that ended more than 7 days ago (the
    /// silences API lists those for a week). Returns (history rows, silences) deleted.</summary>
    public async Task<(int History, int Silences)> PurgeAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var history = dataSource.CreateCommand("delete from alert_history where at < $1");
        history.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now - retention });
        var deleted = await history.ExecuteNonQueryAsync(cancellationToken);
        await using var silences = dataSource.CreateCommand("delete from alert_silences where ends_at < $1");
        silences.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.AddDays(-7) });
        return (deleted, await silences.ExecuteNonQueryAsync(cancellationToken));
    }

    public async Task<IReadOnlyList<AlertChange>> HistoryAsync(string tenantId, AlertHistoryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = dataSource.CreateCommand(
            """
            select h.id, h.rule_id, h.rule_name, h.fingerprint, h.labels, h.from_state, h.to_state, h.value, h.summary, h.at, h.kind, h.receiver_id, h.delivery_id, d.state
            from alert_history h left join relay_deliveries d on d.id = h.delivery_id and d.tenant_id = h.tenant_id
            where h.tenant_id = $1 and ($2::text is null or h.rule_id = $2) and ($3::text is null or h.to_state = $3)
              and ($4::timestamptz is null or h.at >= $4) and ($5::timestamptz is null or h.at < $5) and ($6::bigint is null or h.id < $6)
              and ($8::text is null or h.kind = $8)
            order by h.at desc, h.id desc limit $7
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.RuleId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.State ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.From ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.To ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Math.Clamp(query.Limit, 1, 500) });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)query.Kind ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var list = new List<AlertChange>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new AlertChange(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), Labels(reader.GetString(4)),
                reader.GetString(5), reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetDouble(7), reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetFieldValue<DateTimeOffset>(9), reader.GetString(10), reader.IsDBNull(11) ? null : reader.GetString(11),
                reader.IsDBNull(12) ? null : reader.GetInt64(12), reader.IsDBNull(13) ? null : reader.GetString(13)));
        }

        return list;
    }

    private static bool ConditionChanged(AlertRule a, AlertRule b) =>
        a.Metric != b.Metric || !a.Matchers.SequenceEqual(b.Matchers) || a.Aggregation != b.Aggregation || a.Window != b.Window
        || a.Op != b.Op || !a.Threshold.Equals(b.Threshold) || a.For != b.For || !b.Enabled;

    /// <summary>Ends a rule's instances (rule changed, disabled or deleted): firing ones are resolved, pending ones dropped,
    /// each recorded.</summary>
    private static async Task ClearInstancesAsync(NpgsqlConnection connection, NpgsqlTransaction tx, AlertRule rule, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            with gone as (delete from alert_instances where rule_id = $1 and tenant_id = $2 returning fingerprint, labels, state, value)
            insert into alert_history (tenant_id, rule_id, rule_name, fingerprint, labels, from_state, to_state, value, summary, at)
            select $2, $1, $3, fingerprint, labels, state, case when state = 'firing' then 'resolved' else 'inactive' end, value, 'rule changed or removed', $4
            from gone
            """, connection, tx);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.TenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Name });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlBatchCommand DeleteInstance(string ruleId, string fingerprint)
    {
        var delete = new NpgsqlBatchCommand("delete from alert_instances where rule_id = $1 and fingerprint = $2");
        delete.Parameters.Add(new NpgsqlParameter<string> { TypedValue = ruleId });
        delete.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fingerprint });
        return delete;
    }

    private static NpgsqlBatchCommand History(AlertRule rule, string fingerprint, IReadOnlyDictionary<string, string> labels, string from, string to, double? value, DateTimeOffset at)
    {
        var summary = rule.Annotations.TryGetValue("summary", out var template) ? AlertTemplates.Expand(template, labels, value) : rule.Expression;
        var insert = new NpgsqlBatchCommand(
            "insert into alert_history (tenant_id, rule_id, rule_name, fingerprint, labels, from_state, to_state, value, summary, at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.TenantId });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Id });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Name });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fingerprint });
        insert.Parameters.Add(new NpgsqlParameter { Value = Json(labels), NpgsqlDbType = NpgsqlDbType.Jsonb });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = from });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = to });
        insert.Parameters.Add(new NpgsqlParameter { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Double });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = summary });
        insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = at });
        return insert;
    }

    private static void AddRule(NpgsqlCommand command, AlertRule rule)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.TenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Name });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Metric });
        command.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(rule.Matchers.ToList(), AlertsJsonContext.Default.ListString), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Aggregation });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)rule.Window.TotalSeconds });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Op });
        command.Parameters.Add(new NpgsqlParameter<double> { TypedValue = rule.Threshold });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)rule.For.TotalSeconds });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = (int)rule.KeepFiringFor.TotalSeconds });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = rule.Severity });
        command.Parameters.Add(new NpgsqlParameter { Value = Json(rule.Labels), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter { Value = Json(rule.Annotations), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = rule.Enabled });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = rule.Version });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = rule.CreatedAt });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = rule.UpdatedAt });
    }

    private static async Task<IReadOnlyList<AlertRule>> ReadRulesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var list = new List<AlertRule>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new AlertRule(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3),
                JsonSerializer.Deserialize(r.GetString(4), AlertsJsonContext.Default.ListString) ?? [], r.GetString(5), TimeSpan.FromSeconds(r.GetInt32(6)),
                r.GetString(7), r.GetDouble(8), TimeSpan.FromSeconds(r.GetInt32(9)), TimeSpan.FromSeconds(r.GetInt32(10)), r.GetString(11),
                Labels(r.GetString(12)), Labels(r.GetString(13)), r.GetBoolean(14), r.GetInt32(15), r.GetFieldValue<DateTimeOffset>(16), r.GetFieldValue<DateTimeOffset>(17)));
        }

        return list;
    }

    private static AlertInstance ReadInstance(NpgsqlDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetString(2), Labels(r.GetString(3)), r.GetString(4), r.GetFieldValue<DateTimeOffset>(5),
            r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7), r.GetFieldValue<DateTimeOffset>(8),
            r.IsDBNull(9) ? null : r.GetDouble(9));

    private static Dictionary<string, string> Labels(string json) =>
        JsonSerializer.Deserialize(json, AlertsJsonContext.Default.DictionaryStringString) ?? new Dictionary<string, string>();

    private static string Json(IReadOnlyDictionary<string, string> labels) =>
        JsonSerializer.Serialize(new Dictionary<string, string>(labels), AlertsJsonContext.Default.DictionaryStringString);

    private static Failure NotFound(string id) => new(FailureKind.NotFound, "not-found", "No such rule", $"This tenant has no alert rule '{id}'.");

    private static Failure NameTaken(string name) => new(FailureKind.Conflict, "rule-name-taken", "Name taken", $"This tenant already has an alert rule named '{name}'.");
}

[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class AlertsJsonContext : JsonSerializerContext;
