-- Chatbot relay: conversations and their owner, every message, the outbox (one delivery per target, written in the
-- same transaction as its message), every attempt, hand-overs, and the webhook deliveries already taken in.
-- Routes (how an Evolution instance authenticates and where its messages go) live in Table storage, not here.
-- No foreign keys: each would cost a lookup and a row lock per insert on the webhook path, and the rows are only ever
-- written together by RelayStore; retention deletes children explicitly.

-- One conversation per (instance, customer JID). owner is the truth the relay routes by: ingest locks this row
-- (the upsert does) so a message and a hand-over of the same conversation are serialized.
create table relay_conversations (
    id                        text        primary key,
    tenant_id                 text        not null,
    instance                  text        not null,
    customer_jid              text        not null,  -- phone JID (@s.whatsapp.net) when known, else @lid, or the group (@g.us)
    customer_lid              text,
    customer_name             text,
    is_group                  boolean     not null default false,
    owner                     text        not null default 'bot' check (owner in ('bot', 'human')),
    owner_since               timestamptz not null,
    chatwoot_conversation_id  bigint,
    chatwoot_contact_id       bigint,
    created_at                timestamptz not null,
    last_message_at           timestamptz not null,
    unique (tenant_id, instance, customer_jid)
) with (fillfactor = 80);  -- every message updates last_message_at: room for HOT updates (no index covers it)
create index relay_conversations_chatwoot on relay_conversations (tenant_id, instance, chatwoot_conversation_id);
create index relay_conversations_lid on relay_conversations (tenant_id, instance, customer_lid) where customer_lid is not null;

-- Every message through the relay. Inbound (customer → relay) are unique per (instance, WhatsApp key.id): the
-- constraint, not Redis, is what makes a redelivered webhook a no-op. Outbound (agent/bot → customer) get their
-- WhatsApp id once Evolution answers the send, which is how their echo is recognised.
create table relay_messages (
    id               bigint      generated always as identity primary key,
    tenant_id        text        not null,
    conversation_id  text        not null,
    instance         text        not null,
    direction        text        not null check (direction in ('inbound', 'outbound')),
    source           text        not null,           -- evolution, phone (fromMe typed on the phone), chatwoot, botpress, api
    external_id      text,                           -- WhatsApp key.id
    source_ref       text,                           -- e.g. the Chatwoot message id an outbound message came from
    kind             text        not null,           -- text, image, audio, video, document, sticker, location, contact, reaction, other
    text             text,
    author           text,                           -- a group's participant JID
    sent_at          timestamptz not null,           -- messageTimestamp (never the envelope's date_time)
    received_at      timestamptz not null,
    status           text,                           -- PENDING < SERVER_ACK < DELIVERY_ACK < READ < PLAYED; only moves forward
    decision         text        not null,           -- the routing decision, for the audit
    payload          jsonb                           -- the webhook as received, minus credentials
);
create unique index relay_messages_external on relay_messages (tenant_id, instance, external_id) where external_id is not null;
create index relay_messages_conversation on relay_messages (conversation_id, id);
create index relay_messages_received on relay_messages using brin (received_at);

-- The outbox. lane orders deliveries: ordered targets share the conversation's lane (one in flight, oldest
-- messageTimestamp first, so a late retry of an earlier message still goes before a later one that waits with it),
-- unordered ones get a lane of their own. A row is claimed with FOR UPDATE SKIP LOCKED and leased for the length of
-- one attempt, so several relay processes never send the same row at the same time.
create table relay_deliveries (
    id               bigint      generated always as identity primary key,
    tenant_id        text        not null,
    webhook_id       text        not null,           -- Standard Webhooks webhook-id (80 random bits): stable across retries and replays
    message_id       bigint,
    conversation_id  text        not null,
    instance         text        not null,
    target           text        not null,           -- n8n, botpress, chatwoot, evolution
    operation        text        not null default 'message',  -- message, or status (a Chatwoot conversation status)
    lane             text        not null,
    message_at       timestamptz not null,           -- the message's own time (messageTimestamp): a lane goes oldest first
    state            text        not null default 'pending' check (state in ('pending', 'delivered', 'dead')),
    attempts         int         not null default 0,
    retry_base       int         not null default 0, -- attempts made before the last replay: the schedule restarts from there
    next_attempt_at  timestamptz not null,
    lease_until      timestamptz,
    last_status      int,
    last_error       text,
    created_at       timestamptz not null,
    delivered_at     timestamptz,
    dead_at          timestamptz,
    replays          int         not null default 0
);
create index relay_deliveries_pending on relay_deliveries (lane, target, message_at, id) where state = 'pending';
create index relay_deliveries_due on relay_deliveries (next_attempt_at, id) where state = 'pending';
create index relay_deliveries_dead on relay_deliveries (tenant_id, dead_at desc) where state = 'dead';
create index relay_deliveries_conversation on relay_deliveries (conversation_id, id);
create index relay_deliveries_created on relay_deliveries using brin (created_at);

create table relay_attempts (
    delivery_id  bigint      not null,
    attempt      int         not null,
    tenant_id    text        not null,
    at           timestamptz not null,
    status       int,                                -- HTTP status; null for a timeout or a connection error
    latency_ms   real        not null,
    error        text,
    primary key (delivery_id, attempt)
);
create index relay_attempts_at on relay_attempts using brin (at);

create table relay_handovers (
    id               bigint      generated always as identity primary key,
    tenant_id        text        not null,
    conversation_id  text        not null,
    at               timestamptz not null,
    from_owner       text        not null,
    to_owner         text        not null,
    reason           text        not null,
    actor            text        not null            -- user:{id}, key:{id}, chatwoot
);
create index relay_handovers_conversation on relay_handovers (conversation_id, id);

-- Webhook deliveries already processed, for sources that name their deliveries (X-Chatwoot-Delivery): a Sidekiq
-- retry of one is acknowledged and changes nothing.
create table relay_webhook_receipts (
    tenant_id    text        not null,
    source       text        not null,
    delivery_id  text        not null,
    received_at  timestamptz not null,
    primary key (tenant_id, source, delivery_id)
);
create index relay_webhook_receipts_received on relay_webhook_receipts using brin (received_at);

-- The latest connection.update of each instance (open, connecting, close, refused).
create table relay_instances (
    tenant_id   text        not null,
    instance    text        not null,
    state       text        not null,
    reason      int,
    updated_at  timestamptz not null,
    primary key (tenant_id, instance)
);
