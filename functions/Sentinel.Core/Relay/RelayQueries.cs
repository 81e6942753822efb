using Npgsql;
using Sentinel.Core.Identity;

namespace Sentinel.Core.Relay;

internal sealed record ConversationSummary(
    string Id, string Instance, string CustomerJid, string? CustomerLid, string? CustomerName, bool IsGroup, string Owner, DateTimeOffset OwnerSince,
    long? ChatwootConversationId, DateTimeOffset CreatedAt, DateTimeOffset LastMessageAt);

internal sealed record MessageView(
    long Id, string Direction, string Source, string? ExternalId, string Kind, string? Text, string? Author, DateTimeOffset SentAt, DateTimeOffset ReceivedAt,
    string? Status, string Decision);

internal sealed record AttemptView(int Attempt, DateTimeOffset At, int? Status, double LatencyMs, string? Error);

internal sealed record DeliveryView(
    long Id, string WebhookId, long? MessageId, string ConversationId, string Instance, string Target, string Operation, string State, int Attempts,
    DateTimeOffset NextAttemptAt, int? LastStatus, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? DeliveredAt, DateTimeOffset? DeadAt, int Replays,
    IReadOnlyList<AttemptView>? AttemptLog);

internal sealed record HandoverView(DateTimeOffset At, string From, string To, string Reason, string Actor);

internal sealed record ConversationDetail(ConversationSummary Conversation, IReadOnlyList<MessageView> Messages, IReadOnlyList<DeliveryView> Deliveries, IReadOnlyList<HandoverView> Handovers);

internal sealed record RelayStats(
    DateTimeOffset From, DateTimeOffset To, long Messages, double MessagesPerMinute, long Attempts, long Delivered, long FailedAttempts, double? SuccessRate,
    double? LatencyP50Ms, double? LatencyP95Ms, double? LatencyP99Ms, double? LagP50Ms, double? LagP99Ms, long Backlog, long DeadLetters,
    IReadOnlyList<TargetStats> Targets, IReadOnlyList<MinuteCount> PerMinute);

internal sealed record TargetStats(string Target, long Delivered, long FailedAttempts, long Backlog, long DeadLetters);

internal sealed record MinuteCount(DateTimeOffset Minute, long Messages);

/// <summary>The relay's read side: conversations with their full audit, deliveries and their attempts, and stats. Tenant-scoped.</summary>
internal sealed class RelayQueries(NpgsqlDataSource dataSource, TimeProvider time)
{
    private const string ConversationColumns =
        "id, instance, customer_jid, customer_lid, customer_name, is_group, owner, owner_since, chatwoot_conversation_id, created_at, last_message_at";

    private const string DeliveryColumns =
        "id, webhook_id, message_id, conversation_id, instance, target, operation, state, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at, dead_at, replays";

    public async Task<IReadOnlyList<ConversationSummary>> ConversationsAsync(string tenantId, string? owner, string? instance, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"select {ConversationColumns} from relay_conversations where tenant_id = $1 and ($2::text is null or owner = $2) and ($3::text is null or instance = $3) " +
            "order by last_message_at desc limit $4");
        RelayStore.Add(command, tenantId, owner, instance, Math.Clamp(limit, 1, 500));
        return await ReadAllAsync(command, ReadConversation, cancellationToken);
    }

    public async Task<Outcome<ConversationDetail>> ConversationAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var select = new NpgsqlCommand($"select {ConversationColumns} from relay_conversations where tenant_id = $1 and id = $2", conn);
        RelayStore.Add(select, tenantId, id);
        var conversation = (await ReadAllAsync(select, ReadConversation, cancellationToken)).FirstOrDefault();
        if (conversation is null)
            return new Failure(FailureKind.NotFound, "not-found", "No such conversation", $"This tenant has no relay conversation '{id}'.");

        await using var messages = new NpgsqlCommand(
            "select * from (select id, direction, source, external_id, kind, text, author, sent_at, received_at, status, decision from relay_messages " +
            "where conversation_id = $1 and tenant_id = $2 order by id desc limit 500) m order by id", conn);
        RelayStore.Add(messages, id, tenantId);
        var messageList = await ReadAllAsync(messages, r => new MessageView(r.GetInt64(0), r.GetString(1), r.GetString(2), S(r, 3), r.GetString(4), S(r, 5), S(r, 6),
            r.GetFieldValue<DateTimeOffset>(7), r.GetFieldValue<DateTimeOffset>(8), S(r, 9), r.GetString(10)), cancellationToken);

        await using var deliveries = new NpgsqlCommand(
            $"select * from (select {DeliveryColumns} from relay_deliveries where conversation_id = $1 and tenant_id = $2 order by id desc limit 1000) d order by id", conn);
        RelayStore.Add(deliveries, id, tenantId);
        var deliveryList = await ReadAllAsync(deliveries, ReadDelivery, cancellationToken);
        var attempts = await AttemptsAsync(conn, deliveryList.Select(d => d.Id).ToArray(), cancellationToken);
        deliveryList = deliveryList.Select(d => d with { AttemptLog = attempts.GetValueOrDefault(d.Id, []) }).ToList();

        await using var handovers = new NpgsqlCommand(
            "select at, from_owner, to_owner, reason, actor from relay_handovers where conversation_id = $1 and tenant_id = $2 order by id", conn);
        RelayStore.Add(handovers, id, tenantId);
        var handoverList = await ReadAllAsync(handovers, r => new HandoverView(r.GetFieldValue<DateTimeOffset>(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4)), cancellationToken);
        return new ConversationDetail(conversation, messageList, deliveryList, handoverList);
    }

    /// <summary>A conversation's owner; null when the tenant has no such conversation.</summary>
    public async Task<string?> OwnerAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select owner from relay_conversations where tenant_id = $1 and id = $2");
        RelayStore.Add(command, tenantId, id);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<IReadOnlyList<DeliveryView>> DeliveriesAsync(string tenantId, string? state, string? target, string? instance, long? before, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"select {DeliveryColumns} from relay_deliveries where tenant_id = $1 and ($2::text is null or state = $2) and ($3::text is null or target = $3) " +
            "and ($4::text is null or instance = $4) and ($5::bigint is null or id < $5) order by id desc limit $6");
        RelayStore.Add(command, tenantId, state, target, instance, before, Math.Clamp(limit, 1, 500));
        return await ReadAllAsync(command, ReadDelivery, cancellationToken);
    }

    public async Task<Outcome<DeliveryView>> DeliveryAsync(string tenantId, long id, CancellationToken cancellationToken)
    {
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"select {DeliveryColumns} from relay_deliveries where tenant_id = $1 and id = $2", conn);
        RelayStore.Add(command, tenantId, id);
        var delivery = (await ReadAllAsync(command, ReadDelivery, cancellationToken)).FirstOrDefault();
        if (delivery is null)
            return new Failure(FailureKind.NotFound, "not-found", "No such delivery", $"This tenant has no relay delivery {id}.");
        var attempts = await AttemptsAsync(conn, [id], cancellationToken);
        return delivery with { AttemptLog = attempts.GetValueOrDefault(id, []) };
    }

    public async Task<RelayStats> StatsAsync(string tenantId, TimeSpan window, CancellationToken cancellationToken)
    {
        var to = time.GetUtcNow();
        var from = to - window;
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(conn);
        var messages = new NpgsqlBatchCommand(
            "select date_bin('1 minute', received_at, $2) as minute, count(*) from relay_messages where tenant_id = $1 and received_at >= $2 and received_at < $3 group by 1 order by 1");
        var attempts = new NpgsqlBatchCommand(
            "select count(*), count(*) filter (where a.status between 200 and 299), " +
            "percentile_cont(array[0.5, 0.95, 0.99]) within group (order by a.latency_ms) filter (where a.status between 200 and 299) " +
            "from relay_attempts a where a.tenant_id = $1 and a.at >= $2 and a.at < $3");
        var lag = new NpgsqlBatchCommand(
            "select percentile_cont(array[0.5, 0.99]) within group (order by extract(epoch from delivered_at - created_at) * 1000) " +
            "from relay_deliveries where tenant_id = $1 and state = 'delivered' and delivered_at >= $2 and delivered_at < $3");
        var targets = new NpgsqlBatchCommand(
            "select target, count(*) filter (where state = 'delivered' and delivered_at >= $2), " +
            "coalesce(sum(attempts - case when state = 'delivered' then 1 else 0 end) filter (where created_at >= $2), 0)::bigint, " +
            "count(*) filter (where state = 'pending'), count(*) filter (where state = 'dead') " +
            "from relay_deliveries where tenant_id = $1 and (state <> 'delivered' or delivered_at >= $2) group by target order by target");
        foreach (var c in new[] { messages, attempts, lag, targets })
        {
            RelayStore.Add(c, tenantId, from, to);
            batch.BatchCommands.Add(c);
        }

        await using var r = await batch.ExecuteReaderAsync(cancellationToken);
        var perMinute = new List<MinuteCount>();
        while (await r.ReadAsync(cancellationToken))
            perMinute.Add(new MinuteCount(r.GetFieldValue<DateTimeOffset>(0), r.GetInt64(1)));
        await r.NextResultAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        var (total, ok) = (r.GetInt64(0), r.GetInt64(1));
        var latency = r.IsDBNull(2) ? null : r.GetFieldValue<double[]>(2);
        await r.NextResultAsync(cancellationToken);
        await r.ReadAsync(cancellationToken);
        var lags = r.IsDBNull(0) ? null : r.GetFieldValue<double[]>(0);
        await r.NextResultAsync(cancellationToken);
        var targetList = new List<TargetStats>();
        while (await r.ReadAsync(cancellationToken))
            targetList.Add(new TargetStats(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)));
        var count = perMinute.Sum(m => m.Messages);
        return new RelayStats(from, to, count, Math.Round(count / Math.Max(1, window.TotalMinutes), 2), total, ok, total - ok, total == 0 ? null : Math.Round((double)ok / total, 4),
            latency?[0], latency?[1], latency?[2], lags?[0], lags?[1], targetList.Sum(t => t.Backlog), targetList.Sum(t => t.DeadLetters), targetList, perMinute);
    }

    private static async Task<Dictionary<long, IReadOnlyList<AttemptView>>> AttemptsAsync(NpgsqlConnection conn, long[] ids, CancellationToken ct)
    {
        var map = new Dictionary<long, IReadOnlyList<AttemptView>>();
        if (ids.Length == 0)
            return map;
        await using var command = new NpgsqlCommand("select delivery_id, attempt, at, status, latency_ms, error from relay_attempts where delivery_id = any($1) order by delivery_id, attempt", conn);
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = ids });
        await using var r = await command.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var id = r.GetInt64(0);
            if (!map.TryGetValue(id, out var list))
                map[id] = list = new List<AttemptView>();
            ((List<AttemptView>)list).Add(new AttemptView(r.GetInt32(1), r.GetFieldValue<DateTimeOffset>(2), r.IsDBNull(3) ? null : r.GetInt32(3), r.GetFloat(4), S(r, 5)));
        }

        return map;
    }

    private static ConversationSummary ReadConversation(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), S(r, 3), S(r, 4), r.GetBoolean(5), r.GetString(6), r.GetFieldValue<DateTimeOffset>(7),
        r.IsDBNull(8) ? null : r.GetInt64(8), r.GetFieldValue<DateTimeOffset>(9), r.GetFieldValue<DateTimeOffset>(10));

    private static DeliveryView ReadDelivery(NpgsqlDataReader r) => new(
        r.GetInt64(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetString(7), r.GetInt32(8),
        r.GetFieldValue<DateTimeOffset>(9), r.IsDBNull(10) ? null : r.GetInt32(10), S(r, 11), r.GetFieldValue<DateTimeOffset>(12),
        r.IsDBNull(13) ? null : r.GetFieldValue<DateTimeOffset>(13), r.IsDBNull(14) ? null : r.GetFieldValue<DateTimeOffset>(14), r.GetInt32(15), null);

    private static async Task<List<T>> ReadAllAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        var list = new List<T>();
        await using var r = await command.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            list.Add(read(r));
        return list;
    }

    private static string? S(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
}
