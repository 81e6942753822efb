using Npgsql;
using Sentinel.Core.Identity;

namespace Sentinel.Core.Relay;

/// <summary>What ingress did with a webhook.</summary>
internal enum IngressStatus
{
    /// <summary>Stored, with its deliveries.</summary>
    Stored,

    /// <summary>Seen before (same instance + key.id, same delivery id): nothing changed.</summary>
    Duplicate,

    /// <summary>Valid, and nothing to do (an echo of our own send, an event the relay does not act on).</summary>
    Ignored,
}

internal sealed record IngressResult(IngressStatus Status, string Decision, string? ConversationId = null, long? MessageId = null, int Deliveries = 0)
{
    public static IngressResult Duplicate(string decision) => new(IngressStatus.Duplicate, decision);

    public static IngressResult Ignored(string decision) => new(IngressStatus.Ignored, decision);
}

/// <summary>A conversation row, locked by the transaction that read it.</summary>
internal sealed record ConversationRow(string Id, string Owner, long? ChatwootConversationId);

/// <summary>
/// The relay's PostgreSQL side: conversations, messages and the outbox. Every write that acknowledges a webhook is one
/// transaction: the message (unique per instance + key.id), its routing decision and one delivery per target commit
/// together or not at all. A conversation's row is locked by every transaction that routes or hands it over, so a
/// message is routed by exactly one owner even while the owner changes. Every query is tenant-scoped.
/// </summary>
internal sealed class RelayStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    private const string ReplyDecisionChatwoot = "from Chatwoot: sent to WhatsApp through Evolution";

    /// <summary>Records a message's time (and the customer's name and LID) on its conversation, found by phone JID, taking
    /// the row lock routing and hand-overs serialize on. Parameters: tenant, instance, JID, now, name, LID.</summary>
    private const string TouchConversationSql =
        "update relay_conversations set last_message_at = greatest(last_message_at, $4), customer_name = coalesce($5, customer_name), " +
        "customer_lid = coalesce(customer_lid, $6) where tenant_id = $1 and instance = $2 and customer_jid = $3 returning id, owner, chatwoot_conversation_id";

    // ---------------------------------------------------------------- Evolution ingress

    public async Task<IngressResult> AcceptEvolutionAsync(RelayRoute route, EvolutionEvent e, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (e.Receipt is { } receipt)
            return await ApplyReceiptAsync(route, receipt, cancellationToken);
        if (e.Connection is { } connection)
        {
            await using var upsert = dataSource.CreateCommand(
                "insert into relay_instances (tenant_id, instance, state, reason, updated_at) values ($1, $2, $3, $4, $5) " +
                "on conflict (tenant_id, instance) do update set state = excluded.state, reason = excluded.reason, updated_at = excluded.updated_at");
            Add(upsert, route.TenantId, route.Instance, connection.State, connection.Reason, now);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
            return new IngressResult(IngressStatus.Stored, $"instance {connection.State}");
        }

        if (e.Message is not { } m)
            return IngressResult.Ignored($"{e.Event}: not an event the relay acts on");
        if (!m.FromMe)
        {
            if (await AcceptInboundAsync(route, m, e.Payload, now, cancellationToken) is { } accepted)
                return accepted;
            // The conversation's first message (or the first to name the phone JID of one known by its LID): create or
            // find it, then route the message as every other.
            await using (var create = await dataSource.OpenConnectionAsync(cancellationToken))
            await using (var createTx = await create.BeginTransactionAsync(cancellationToken))
            {
                await LockConversationAsync(create, createTx, route, m, now, cancellationToken);
                await createTx.CommitAsync(cancellationToken);
            }

            return await AcceptInboundAsync(route, m, e.Payload, now, cancellationToken)
                   ?? throw new InvalidOperationException("A conversation vanished while its first message was routed.");
        }

        // fromMe: our own send coming back (drop it), or typed on the phone / sent by a bot straight through Evolution
        // (mirror it so humans see it, never feed it to a bot: it would answer itself).
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        var conversation = await LockConversationAsync(conn, tx, route, m, now, cancellationToken);
        if (await ClaimEchoAsync(conn, tx, route, conversation.Id, m, now, cancellationToken))
        {
            await tx.CommitAsync(cancellationToken);
            return IngressResult.Ignored("fromMe echo of a message the relay sent");
        }

        var targets = new List<(string Target, string Operation)>();
        if (route.IsActive(RelayTargets.Chatwoot))
            targets.Add((RelayTargets.Chatwoot, "message"));
        var decision = "fromMe (sent outside the relay): not sent to the bot" + (targets.Count > 0 ? "; mirrored to Chatwoot as outgoing" : "");
        var messageId = await InsertMessageAsync(conn, tx, route, conversation.Id, "outbound", "phone", m.KeyId, null, m.Kind, m.Text,
            m.Author, m.SentAt, now, m.Status, decision, e.Payload, targets, cancellationToken);
        if (messageId is null)
        {
            await tx.RollbackAsync(cancellationToken);
            return IngressResult.Duplicate($"message {m.KeyId} of {route.Instance} was already received");
        }

        await tx.CommitAsync(cancellationToken);
        return new IngressResult(IngressStatus.Stored, decision, conversation.Id, messageId, targets.Count);
    }

    /// <summary>
    /// The hot path — a customer's message in a conversation that exists — as one autocommitted statement (one round
    /// trip): the UPDATE takes the conversation's row lock and yields its owner, the message is inserted with the
    /// decision for that owner (nothing for a duplicate), and the deliveries for that owner's targets reference it. The
    /// lock is held until the statement commits, so a concurrent hand-over is serialized with it. Null when the
    /// conversation does not exist yet (or is known only by its LID): the caller creates it and comes back.
    /// </summary>
    private async Task<IngressResult?> AcceptInboundAsync(RelayRoute route, EvolutionMessage m, string payload, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (botTargets, botDecision) = Route(route, Owners.Bot);
        var (humanTargets, humanDecision) = Route(route, Owners.Human);
        var entries = botTargets.Select(t => (Target: t, Owner: Owners.Bot)).Concat(humanTargets.Select(t => (Target: t, Owner: Owners.Human))).ToList();
        await using var command = dataSource.CreateCommand(
            $"with conv as ({TouchConversationSql}), " +
            "m as (insert into relay_messages (tenant_id, conversation_id, instance, direction, source, external_id, kind, text, author, sent_at, received_at, status, decision, payload) " +
            "  select $1, conv.id, $2, 'inbound', 'evolution', $7, $8, $9, $10, $11, $4, $12, case when conv.owner = 'bot' then $13 else $14 end, $15::jsonb from conv " +
            "  on conflict (tenant_id, instance, external_id) where external_id is not null do nothing returning id, conversation_id, decision), " +
            "d as (insert into relay_deliveries (tenant_id, webhook_id, message_id, conversation_id, instance, target, operation, lane, message_at, next_attempt_at, created_at) " +
            "  select $1, t.webhook_id, m.id, m.conversation_id, $2, t.target, 'message', case when t.ordered then m.conversation_id else t.webhook_id end, $11, $4, $4 " +
            "  from m cross join conv cross join unnest($16::text[], $17::text[], $18::text[], $19::boolean[]) as t(webhook_id, target, owner, ordered) " +
            "  where t.owner = conv.owner returning 1) " +
            "select (select id from conv), (select id from m), (select decision from m), (select count(*) from d)");
        Add(command, route.TenantId, route.Instance, m.ConversationJid, now, m.IsGroup ? null : m.PushName, m.Lid, m.KeyId, m.Kind, Cut(m.Text, 65_536),
            Cut(m.Author, 200), m.SentAt, m.Status, botDecision, humanDecision, payload);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = entries.Select(_ => "msg_" + Ids.NewId()).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = entries.Select(x => x.Target).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = entries.Select(x => x.Owner).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<bool[]> { TypedValue = entries.Select(x => route.Target(x.Target)?.Ordered ?? true).ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (reader.IsDBNull(0))
            return null;
        if (reader.IsDBNull(1))
            return IngressResult.Duplicate($"message {m.KeyId} of {route.Instance} was already received");
        return new IngressResult(IngressStatus.Stored, reader.GetString(2), reader.GetString(0), reader.GetInt64(1), (int)reader.GetInt64(3));
    }

    /// <summary>Where a customer's message goes when the conversation has this owner, and the decision to record.</summary>
    private static (List<string> Targets, string Decision) Route(RelayRoute route, string owner)
    {
        var targets = new List<string>();
        var notes = new List<string>();
        if (owner == Owners.Bot)
        {
            if (route.BotTarget is { } bot && route.IsActive(bot))
            {
                targets.Add(bot);
                notes.Add($"owner bot → {bot}");
            }
            else
            {
                notes.Add(route.BotTarget is { } disabled ? $"owner bot, but {disabled} is disabled ({route.Target(disabled)!.DisabledReason})" : "owner bot, but the route has no bot target");
            }
        }
        else
        {
            notes.Add("owner human → Chatwoot only");
        }

        if (route.IsActive(RelayTargets.Chatwoot))
        {
            targets.Add(RelayTargets.Chatwoot);
            notes.Add("mirrored to Chatwoot");
        }

        return (targets, string.Join("; ", notes));
    }

    /// <summary>Receipts only move a status forward (PENDING &lt; SERVER_ACK &lt; DELIVERY_ACK &lt; READ &lt; PLAYED).</summary>
    private async Task<IngressResult> ApplyReceiptAsync(RelayRoute route, EvolutionReceipt receipt, CancellationToken cancellationToken)
    {
        await using var update = dataSource.CreateCommand(
            "update relay_messages set status = $4 where tenant_id = $1 and instance = $2 and external_id = $3 " +
            "and coalesce(array_position(array['PENDING','SERVER_ACK','DELIVERY_ACK','READ','PLAYED','ERROR'], status), 0) < $5");
        Add(update, route.TenantId, route.Instance, receipt.KeyId, receipt.Status, EvolutionWebhook.StatusRank(receipt.Status));
        var moved = await update.ExecuteNonQueryAsync(cancellationToken);
        return moved > 0
            ? new IngressResult(IngressStatus.Stored, $"status of {receipt.KeyId} → {receipt.Status}")
            : IngressResult.Ignored($"receipt {receipt.Status} for {receipt.KeyId}: unknown message or not newer");
    }

    /// <summary>
    /// Finds or creates the conversation of a message and locks its row for the rest of the transaction, in one round
    /// trip when it exists: the UPDATE that records the message's time (and the customer's name, and a LID) takes the
    /// row lock and returns the owner. A conversation first seen by its LID is found by it and learns the phone JID.
    /// </summary>
    private static async Task<ConversationRow> LockConversationAsync(NpgsqlConnection conn, NpgsqlTransaction tx, RelayRoute route, EvolutionMessage m, DateTimeOffset now, CancellationToken ct)
    {
        var name = m.FromMe || m.IsGroup ? null : m.PushName;
        for (var attempt = 0; ; attempt++)
        {
            await using (var byJid = new NpgsqlCommand(TouchConversationSql, conn, tx))
            {
                Add(byJid, route.TenantId, route.Instance, m.ConversationJid, now, name, m.Lid);
                if (await ReadConversationAsync(byJid, ct) is { } row)
                    return row;
            }

            if (m.Lid is not null)
            {
                await using var byLid = new NpgsqlCommand(
                    "update relay_conversations set last_message_at = greatest(last_message_at, $4), customer_name = coalesce($5, customer_name), " +
                    "customer_jid = case when customer_jid like '%@lid' and $3 not like '%@lid' then $3 else customer_jid end " +
                    "where tenant_id = $1 and instance = $2 and customer_lid = $6 returning id, owner, chatwoot_conversation_id", conn, tx);
                Add(byLid, route.TenantId, route.Instance, m.ConversationJid, now, name, m.Lid);
                if (await ReadConversationAsync(byLid, ct) is { } row)
                    return row;
            }

            if (attempt > 0)
                throw new InvalidOperationException("A conversation vanished while being created.");
            await using var insert = new NpgsqlCommand(
                "insert into relay_conversations (id, tenant_id, instance, customer_jid, customer_lid, customer_name, is_group, owner_since, created_at, last_message_at) " +
                "values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8) on conflict (tenant_id, instance, customer_jid) do nothing returning id, owner, chatwoot_conversation_id", conn, tx);
            Add(insert, Ids.NewId(), route.TenantId, route.Instance, m.ConversationJid, m.Lid, name, m.IsGroup, now);
            if (await ReadConversationAsync(insert, ct) is { } created)
                return created;
            // A concurrent message created it first: the next update finds it (and waits for its lock).
        }
    }

    private static async Task<ConversationRow?> ReadConversationAsync(NpgsqlCommand command, CancellationToken ct)
    {
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new ConversationRow(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2)) : null;
    }

    /// <summary>
    /// A fromMe message is our own send's echo when its key.id is an outbound message's, or (when the echo beats
    /// Evolution's answer to the send) when an outbound message of the conversation with the same text is still
    /// waiting for its id. Claims that message's id so the send's answer and the echo agree.
    /// </summary>
    private static async Task<bool> ClaimEchoAsync(NpgsqlConnection conn, NpgsqlTransaction tx, RelayRoute route, string conversationId, EvolutionMessage m, DateTimeOffset now, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "update relay_messages set external_id = $4 where id = (select id from relay_messages where tenant_id = $1 and conversation_id = $2 and direction = 'outbound' " +
            "and source <> 'phone' and ((external_id is null and text is not distinct from $3 and received_at > $5) or external_id = $4) order by id limit 1 for update) " +
            "and (external_id is null or external_id = $4)", conn, tx);
        Add(command, route.TenantId, conversationId, m.Text, m.KeyId, now - TimeSpan.FromMinutes(10));
        try
        {
            return await command.ExecuteNonQueryAsync(ct) > 0;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return true;
        }
    }

    // ---------------------------------------------------------------- Chatwoot ingress

    public async Task<IngressResult> AcceptChatwootAsync(RelayRoute route, string? deliveryId, ChatwootEvent e, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        if (deliveryId is not null)
        {
            await using var receipt = new NpgsqlCommand(
                "insert into relay_webhook_receipts (tenant_id, source, delivery_id, received_at) values ($1, 'chatwoot', $2, $3) on conflict do nothing", conn, tx);
            Add(receipt, route.TenantId, deliveryId, now);
            if (await receipt.ExecuteNonQueryAsync(cancellationToken) == 0)
                return IngressResult.Duplicate($"Chatwoot delivery {deliveryId} was already received");
        }

        var conversation = await FindChatwootConversationAsync(conn, tx, route, e, cancellationToken);
        if (conversation is null)
        {
            await tx.CommitAsync(cancellationToken);
            return IngressResult.Ignored($"{e.Event}: no relay conversation for Chatwoot conversation {e.ConversationId}");
        }

        IngressResult result;
        if (e.Event == "message_created")
        {
            if (e.MessageType != "outgoing" || e.Private || e.SourceId?.StartsWith(ChatwootWebhook.EchoPrefix, StringComparison.Ordinal) == true || string.IsNullOrWhiteSpace(e.Content))
            {
                await tx.CommitAsync(cancellationToken);
                return IngressResult.Ignored(e.Private ? "private note: not sent to WhatsApp"
                    : e.MessageType != "outgoing" ? $"{e.MessageType} message: the relay's own mirror"
                    : string.IsNullOrWhiteSpace(e.Content) ? "no text to send" : "echo of a message the relay mirrored");
            }

            if (e.SenderType == "user" && conversation.Owner == Owners.Bot)
                await ChangeOwnerAsync(conn, tx, route, conversation, Owners.Human, "an agent replied in Chatwoot", "chatwoot", mirror: false, now, cancellationToken);
            var id = await InsertMessageAsync(conn, tx, route, conversation.Id, "outbound", RelayTargets.Chatwoot, null,
                e.MessageId?.ToString(System.Globalization.CultureInfo.InvariantCulture), "text", e.Content, e.SenderName, now, now, null, ReplyDecisionChatwoot, null,
                [(RelayTargets.Evolution, "message")], cancellationToken);
            result = new IngressResult(IngressStatus.Stored, ReplyDecisionChatwoot, conversation.Id, id, 1);
        }
        else if (e.Event.StartsWith("conversation_", StringComparison.Ordinal))
        {
            // open or assigned to a person → the humans'; resolved (or back to pending) → the bot's.
            var owner = e.Status switch
            {
                "open" => Owners.Human,
                "resolved" or "pending" => Owners.Bot,
                _ => null,
            };
            if (e.HasAssignee == true && e.Status is not ("resolved" or "pending"))
                owner = Owners.Human;
            if (owner is not null && owner != conversation.Owner)
            {
                await ChangeOwnerAsync(conn, tx, route, conversation, owner, $"Chatwoot {e.Event}: status {e.Status}{(e.HasAssignee == true ? ", assigned" : "")}", "chatwoot", mirror: false, now, cancellationToken);
                result = new IngressResult(IngressStatus.Stored, $"owner → {owner}", conversation.Id);
            }
            else
            {
                result = IngressResult.Ignored($"{e.Event}: owner stays {conversation.Owner}");
            }
        }
        else
        {
            result = IngressResult.Ignored($"{e.Event}: not an event the relay acts on");
        }

        await tx.CommitAsync(cancellationToken);
        return result;
    }

    private static async Task<ConversationRow?> FindChatwootConversationAsync(NpgsqlConnection conn, NpgsqlTransaction tx, RelayRoute route, ChatwootEvent e, CancellationToken ct)
    {
        // By the Chatwoot conversation the mirror created; else by the contact's identifier (the JID the mirror set) or source id (the phone).
        var phoneJid = e.ContactSourceId is { Length: > 0 and <= 32 } s && s.All(char.IsAsciiDigit) ? s + "@s.whatsapp.net" : null;
        await using var select = new NpgsqlCommand(
            "select id, owner, chatwoot_conversation_id from relay_conversations where tenant_id = $1 and instance = $2 " +
            "and (chatwoot_conversation_id = $3 or customer_jid = $4 or customer_jid = $5) " +
            "order by (chatwoot_conversation_id = $3) is true desc limit 1 for update", conn, tx);
        Add(select, route.TenantId, route.Instance, e.ConversationId, e.ContactIdentifier, phoneJid);
        await using var reader = await select.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return null;
        var row = new ConversationRow(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2));
        await reader.DisposeAsync();
        if (row.ChatwootConversationId is null && e.ConversationId is { } cw)
        {
            await using var learn = new NpgsqlCommand("update relay_conversations set chatwoot_conversation_id = $2 where id = $1", conn, tx);
            Add(learn, row.Id, cw);
            await learn.ExecuteNonQueryAsync(ct);
        }

        return row;
    }

    // ---------------------------------------------------------------- hand-over and sends through the API

    /// <summary>Hands a conversation to the bot or to humans (idempotent: the same owner is a no-op), recorded in its history;
    /// the Chatwoot conversation's status follows (pending for the bot, open for humans) when the route mirrors to Chatwoot.</summary>
    public async Task<Outcome<(string Owner, bool Changed)>> HandoverAsync(string tenantId, string conversationId, string to, string reason, string actor,
        Func<string, CancellationToken, ValueTask<RelayRoute?>> routeOf, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        var (row, instance) = await LockByIdAsync(conn, tx, tenantId, conversationId, cancellationToken);
        if (row is null)
            return ConversationNotFound(conversationId);
        if (row.Owner == to)
            return (to, false);
        var route = await routeOf(instance!, cancellationToken);
        await ChangeOwnerAsync(conn, tx, route, row, to, reason, actor, mirror: true, now, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (to, true);
    }

    /// <summary>Sends a text to the customer (an n8n flow's answer): recorded, delivered through Evolution in conversation order, mirrored to Chatwoot.</summary>
    public async Task<Outcome<long>> SendAsync(string tenantId, string conversationId, string text, string actor,
        Func<string, CancellationToken, ValueTask<RelayRoute?>> routeOf, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        var (row, instance) = await LockByIdAsync(conn, tx, tenantId, conversationId, cancellationToken);
        if (row is null)
            return ConversationNotFound(conversationId);
        if (await routeOf(instance!, cancellationToken) is not { } route)
            return new Failure(FailureKind.Conflict, "route-missing", "No route", $"Instance '{instance}' has no relay route any more; nothing can be sent.");
        var targets = new List<(string, string)> { (RelayTargets.Evolution, "message") };
        if (route.IsActive(RelayTargets.Chatwoot))
            targets.Add((RelayTargets.Chatwoot, "message"));
        var id = await InsertMessageAsync(conn, tx, route, row.Id, "outbound", "api", null, null, "text", text, actor, now, now, null,
            "sent through the API: to WhatsApp" + (targets.Count > 1 ? "; mirrored to Chatwoot" : ""), null, targets, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return id!.Value;
    }

    private static async Task<(ConversationRow? Row, string? Instance)> LockByIdAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string tenantId, string id, CancellationToken ct)
    {
        await using var select = new NpgsqlCommand("select id, owner, chatwoot_conversation_id, instance from relay_conversations where tenant_id = $1 and id = $2 for update", conn, tx);
        Add(select, tenantId, id);
        await using var reader = await select.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? (new ConversationRow(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt64(2)), reader.GetString(3))
            : (null, null);
    }

    private static async Task ChangeOwnerAsync(NpgsqlConnection conn, NpgsqlTransaction tx, RelayRoute? route, ConversationRow row, string to, string reason, string actor,
        bool mirror, DateTimeOffset now, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(conn, tx);
        var update = new NpgsqlBatchCommand("update relay_conversations set owner = $2, owner_since = $3 where id = $1");
        Add(update, row.Id, to, now);
        var history = new NpgsqlBatchCommand("insert into relay_handovers (tenant_id, conversation_id, at, from_owner, to_owner, reason, actor) select tenant_id, id, $2, $3, $4, $5, $6 from relay_conversations where id = $1");
        Add(history, row.Id, now, row.Owner, to, Cut(reason, 500), actor);
        batch.BatchCommands.Add(update);
        batch.BatchCommands.Add(history);
        await batch.ExecuteNonQueryAsync(ct);
        // A hand-over made here (not reported by Chatwoot) moves the Chatwoot conversation too: pending hides it from agents' open view.
        if (mirror && route is not null && route.IsActive(RelayTargets.Chatwoot) && row.ChatwootConversationId is not null)
        {
            await using var status = new NpgsqlCommand(
                "insert into relay_deliveries (tenant_id, webhook_id, conversation_id, instance, target, operation, lane, message_at, next_attempt_at, created_at) " +
                "values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8)", conn, tx);
            var webhookId = "msg_" + Ids.NewId();
            Add(status, route.TenantId, webhookId, row.Id, route.Instance, RelayTargets.Chatwoot, to == Owners.Human ? "status:open" : "status:pending",
                route.Chatwoot!.Ordered ? row.Id : webhookId, now);
            await status.ExecuteNonQueryAsync(ct);
        }
    }

    // ---------------------------------------------------------------- the outbox

    /// <summary>
    /// The message and one outbox row per target in one statement (one round trip): a data-modifying CTE inserts the
    /// message (nothing when its WhatsApp id is already known: a duplicate) and the deliveries that reference it. With a
    /// null <paramref name="direction"/> only deliveries are written (a Chatwoot status change has no message).
    /// Returns the message id; null for a duplicate.
    /// </summary>
    private static async Task<long?> InsertMessageAsync(NpgsqlConnection conn, NpgsqlTransaction tx, RelayRoute route, string conversationId, string direction,
        string source, string? externalId, string? sourceRef, string kind, string? text, string? author, DateTimeOffset sentAt, DateTimeOffset receivedAt, string? status,
        string decision, string? payload, IReadOnlyList<(string Target, string Operation)> targets, CancellationToken ct)
    {
        var webhookIds = new string[targets.Count];
        var lanes = new string[targets.Count];
        for (var i = 0; i < targets.Count; i++)
        {
            webhookIds[i] = "msg_" + Ids.NewId();
            lanes[i] = route.Target(targets[i].Target)?.Ordered ?? true ? conversationId : webhookIds[i];
        }

        await using var insert = new NpgsqlCommand(
            "with m as (insert into relay_messages (tenant_id, conversation_id, instance, direction, source, external_id, source_ref, kind, text, author, sent_at, received_at, status, decision, payload) " +
            "  values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb) " +
            "  on conflict (tenant_id, instance, external_id) where external_id is not null do nothing returning id), " +
            "d as (insert into relay_deliveries (tenant_id, webhook_id, message_id, conversation_id, instance, target, operation, lane, message_at, next_attempt_at, created_at) " +
            "  select $1, t.webhook_id, m.id, $2, $3, t.target, t.operation, t.lane, $11, $12, $12 from m cross join unnest($16::text[], $17::text[], $18::text[], $19::text[]) " +
            "  as t(webhook_id, target, operation, lane) returning 1) " +
            "select (select id from m), (select count(*) from d)", conn, tx);
        Add(insert, route.TenantId, conversationId, route.Instance, direction, source, externalId, sourceRef, kind, Cut(text, 65_536), Cut(author, 200), sentAt, receivedAt,
            status, decision, payload);
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = webhookIds });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = targets.Select(t => t.Target).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = targets.Select(t => t.Operation).ToArray() });
        insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = lanes });
        await using var reader = await insert.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return reader.IsDBNull(0) ? null : reader.GetInt64(0);
    }

    /// <summary>
    /// Claims due deliveries that head their lane (nothing pending comes before them in their conversation and target by
    /// messageTimestamp; an unordered target's delivery is a lane of its own), <c>FOR UPDATE SKIP LOCKED</c>, and leases
    /// them for one attempt: a second process skips them while the lease holds. Targets with an open breaker are left alone.
    /// </summary>
    public async Task<IReadOnlyList<DeliveryWork>> ClaimAsync(int limit, TimeSpan lease, IReadOnlyCollection<string> openBreakers, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = dataSource.CreateCommand(
            // Due rows in due order, kept only if nothing pending comes before them in their lane (an index probe each):
            // cheap however long the backlog is, unlike computing every lane's head.
            "with due as (select d.id, d.conversation_id, d.message_id from relay_deliveries d " +
            "  where d.state = 'pending' and d.next_attempt_at <= $1 and (d.lease_until is null or d.lease_until < $1) " +
            "  and not ((d.tenant_id || '/' || d.instance || '/' || d.target) = any($3)) " +
            "  and not exists (select 1 from relay_deliveries e where e.state = 'pending' and e.lane = d.lane and e.target = d.target and (e.message_at, e.id) < (d.message_at, d.id)) " +
            "  order by d.next_attempt_at, d.id limit $2 for update of d skip locked) " +
            "update relay_deliveries d set lease_until = $4, attempts = d.attempts + 1 from due " +
            // Alert notifications have no conversation (and carry their body): hence the left join.
            "left join relay_conversations c on c.id = due.conversation_id left join relay_messages m on m.id = due.message_id where d.id = due.id " +
            "returning d.id, d.tenant_id, d.webhook_id, d.conversation_id, d.instance, d.target, d.operation, d.attempts, d.attempts - d.retry_base, d.created_at, " +
            "m.id, m.direction, m.source, m.external_id, m.kind, m.text, m.sent_at, m.payload::text, m.author, " +
            "c.customer_jid, c.customer_name, c.is_group, c.owner, c.chatwoot_conversation_id, c.chatwoot_contact_id, d.body");
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = openBreakers.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now + lease });
        var list = new List<DeliveryWork>();
        await using var r = await command.ExecuteReaderAsync(cancellationToken);
        while (await r.ReadAsync(cancellationToken))
        {
            list.Add(new DeliveryWork(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6), r.GetInt32(7), r.GetInt32(8),
                r.GetFieldValue<DateTimeOffset>(9),
                r.IsDBNull(10) ? null : new MessageRow(r.GetInt64(10), r.GetString(11), r.GetString(12), S(r, 13), r.GetString(14), S(r, 15), r.GetFieldValue<DateTimeOffset>(16), S(r, 17), S(r, 18)),
                S(r, 19) ?? "", S(r, 20), !r.IsDBNull(21) && r.GetBoolean(21), S(r, 22) ?? "", r.IsDBNull(23) ? null : r.GetInt64(23), r.IsDBNull(24) ? null : r.GetInt64(24),
                S(r, 25)));
        }

        return list;
    }

    /// <summary>
    /// Records attempts and their consequences — delivered (with what the target answered), retry at a time, or dead —
    /// for a whole drained batch in one transaction and one round trip (plus the bot's replies, if any). Should a learnt
    /// WhatsApp id collide with one an echo claimed first, the batch is recorded again one attempt at a time without it.
    /// </summary>
    public async Task CompleteAsync(IReadOnlyList<AttemptRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count == 0)
            return;
        var now = time.GetUtcNow();
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        await using (var batch = new NpgsqlBatch(conn, tx))
        {
            foreach (var (work, outcome, _) in records)
                AddCompletion(batch, work, outcome, now);
            try
            {
                await batch.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                // An echo claimed a send's id first (ClaimEchoAsync); the message already carries it.
                await tx.RollbackAsync(cancellationToken);
                foreach (var r in records)
                    await CompleteAsync([r with { Outcome = r.Outcome with { ExternalId = null } }], cancellationToken);
                return;
            }
        }

        // The bot's answers (Botpress Converse replies synchronously) go out as outbound messages in this same transaction.
        foreach (var (work, outcome, route) in records)
        {
            if (outcome.Result != AttemptResult.Delivered || outcome.Replies is not { Count: > 0 } replies || route is null)
                continue;
            foreach (var reply in replies)
            {
                var targets = new List<(string, string)> { (RelayTargets.Evolution, "message") };
                if (route.IsActive(RelayTargets.Chatwoot))
                    targets.Add((RelayTargets.Chatwoot, "message"));
                await InsertMessageAsync(conn, tx, route, work.ConversationId, "outbound", work.Target, null, work.WebhookId, "text", reply,
                    null, now, now, null, $"{work.Target} reply: to WhatsApp" + (targets.Count > 1 ? "; mirrored to Chatwoot" : ""), null, targets, cancellationToken);
            }
        }

        await tx.CommitAsync(cancellationToken);
    }

    private static void AddCompletion(NpgsqlBatch batch, DeliveryWork work, AttemptOutcome outcome, DateTimeOffset now)
    {
        var attempt = new NpgsqlBatchCommand("insert into relay_attempts (delivery_id, attempt, tenant_id, at, status, latency_ms, error) values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing");
        Add(attempt, work.Id, work.Attempt, work.TenantId, now, outcome.Status, (float)outcome.LatencyMs, Cut(outcome.Error, 2000));
        batch.BatchCommands.Add(attempt);
        var state = outcome.Result switch
        {
            AttemptResult.Delivered => "delivered",
            AttemptResult.Retry => "pending",
            _ => "dead",
        };
        // Only the holder of the latest claim settles the row (attempts = ours).
        var update = new NpgsqlBatchCommand(
            "update relay_deliveries set state = $3, lease_until = null, last_status = $4, last_error = $5, next_attempt_at = coalesce($6, next_attempt_at), " +
            "delivered_at = case when $3 = 'delivered' then $7 end, dead_at = case when $3 = 'dead' then $7 end where id = $1 and attempts = $2 and state = 'pending'");
        Add(update, work.Id, work.Attempt, state, outcome.Status, Cut(outcome.Error, 2000), outcome.NextAttemptAt, now);
        batch.BatchCommands.Add(update);
        if (outcome.ExternalId is { } externalId && work.Message is { } m)
        {
            var learn = new NpgsqlBatchCommand("update relay_messages set external_id = $2, status = coalesce(status, 'PENDING') where id = $1 and external_id is null");
            Add(learn, m.Id, externalId);
            batch.BatchCommands.Add(learn);
        }

        if (outcome.ChatwootConversationId is { } cwConversation)
        {
            var learn = new NpgsqlBatchCommand("update relay_conversations set chatwoot_conversation_id = $2, chatwoot_contact_id = coalesce($3, chatwoot_contact_id) where id = $1");
            Add(learn, work.ConversationId, cwConversation, outcome.ChatwootContactId);
            batch.BatchCommands.Add(learn);
        }
    }

    /// <summary>Dead-letters every pending delivery of a target that answered 410 Gone.</summary>
    public async Task<int> KillTargetAsync(string tenantId, string instance, string target, string reason, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "update relay_deliveries set state = 'dead', dead_at = $5, lease_until = null, last_error = $4 where tenant_id = $1 and instance = $2 and target = $3 and state = 'pending'");
        Add(command, tenantId, instance, target, reason, time.GetUtcNow());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Puts dead deliveries back in the outbox with a fresh retry schedule and the same webhook-id. A delivered
    /// or pending delivery is never touched, so a replay cannot send anything twice.</summary>
    public async Task<int> ReplayAsync(string tenantId, long? id, string? target, string? instance, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "update relay_deliveries set state = 'pending', next_attempt_at = $5, lease_until = null, dead_at = null, retry_base = attempts, replays = replays + 1 " +
            "where id in (select id from relay_deliveries where tenant_id = $1 and state = 'dead' and ($2::bigint is null or id = $2) " +
            "and ($3::text is null or target = $3) and ($4::text is null or instance = $4) order by id limit 10000)");
        Add(command, tenantId, id, target, instance, time.GetUtcNow());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes relay data older than the retention (attempts, deliveries, messages, hand-overs, quiet
    /// conversations), never anything a pending delivery still needs. There are no cascading foreign keys: children first.</summary>
    public async Task<(int Messages, int Conversations)> PurgeAsync(TimeSpan retention, CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - retention;
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await conn.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync("delete from relay_attempts a using relay_deliveries d where a.delivery_id = d.id and d.created_at < $1 and d.state <> 'pending'");
        await ExecuteAsync("delete from relay_deliveries where created_at < $1 and state <> 'pending'");
        var messages = await ExecuteAsync(
            "delete from relay_messages where received_at < $1 and id not in (select message_id from relay_deliveries where state = 'pending' and message_id is not null)");
        await ExecuteAsync("delete from relay_handovers where at < $1");
        await ExecuteAsync("delete from relay_webhook_receipts where received_at < $1");
        var conversations = await ExecuteAsync(
            "delete from relay_conversations c where last_message_at < $1 and not exists (select 1 from relay_deliveries d where d.conversation_id = c.id) " +
            "and not exists (select 1 from relay_messages m where m.conversation_id = c.id)");
        await tx.CommitAsync(cancellationToken);
        return (messages, conversations);

        async Task<int> ExecuteAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, conn, tx);
            Add(command, cutoff);
            return await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static Failure ConversationNotFound(string id) =>
        new(FailureKind.NotFound, "not-found", "No such conversation", $"This tenant has no relay conversation '{id}'.");

    private static string? S(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static string? Cut(string? s, int max) => s is null || s.Length <= max ? s : s[..max];

    internal static void Add(NpgsqlCommand command, params object?[] values) => Add(command.Parameters, values);

    internal static void Add(NpgsqlBatchCommand command, params object?[] values) => Add(command.Parameters, values);

    private static void Add(NpgsqlParameterCollection parameters, object?[] values)
    {
        foreach (var v in values)
            parameters.Add(Parameter(v));
    }

    private static NpgsqlParameter Parameter(object? value) => value switch
    {
        null => new NpgsqlParameter { Value = DBNull.Value },
        string s => new NpgsqlParameter<string> { TypedValue = s },
        DateTimeOffset d => new NpgsqlParameter<DateTimeOffset> { TypedValue = d },
        _ => new NpgsqlParameter { Value = value },
    };
}

/// <summary>A message as a delivery needs it.</summary>
internal sealed record MessageRow(long Id, string Direction, string Source, string? ExternalId, string Kind, string? Text, DateTimeOffset SentAt, string? Payload, string? Author);

/// <summary>A claimed delivery: the row, its message and its conversation (none for an alert notification, which carries its <see cref="Body"/>).</summary>
internal sealed record DeliveryWork(
    long Id, string TenantId, string WebhookId, string ConversationId, string Instance, string Target, string Operation, int Attempt, int ScheduleAttempt,
    DateTimeOffset CreatedAt, MessageRow? Message, string CustomerJid, string? CustomerName, bool IsGroup, string Owner, long? ChatwootConversationId, long? ChatwootContactId,
    string? Body = null);

/// <summary>One attempt to record: the claimed delivery, what came of it, and its route (for a bot's replies).</summary>
internal sealed record AttemptRecord(DeliveryWork Work, AttemptOutcome Outcome, RelayRoute? Route);

internal enum AttemptResult
{
    Delivered,
    Retry,
    Dead,
}

/// <summary>What one attempt came to, and what the target told us (the WhatsApp id of a send, Chatwoot's ids, a bot's replies).</summary>
internal sealed record AttemptOutcome(
    AttemptResult Result, int? Status, double LatencyMs, string? Error, DateTimeOffset? NextAttemptAt = null,
    string? ExternalId = null, long? ChatwootConversationId = null, long? ChatwootContactId = null, IReadOnlyList<string>? Replies = null);
