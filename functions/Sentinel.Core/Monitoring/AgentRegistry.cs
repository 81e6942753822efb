using System.Collections.Concurrent;
using System.Text.Json;
using Npgsql;
using Sentinel.Contracts.Metrics;
using Sentinel.Core.Identity;

namespace Sentinel.Core.Monitoring;

/// <summary>An agent as the registry knows it.</summary>
internal sealed record AgentRecord(
    string Id, string TenantId, string Name, int KeyVersion, int? PreviousKeyVersion, DateTimeOffset? PreviousKeyUntil,
    DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? RevokedAt, DateTimeOffset? LastSeen, DateTimeOffset? LastCollected,
    long? LastSeq, int? IntervalSeconds, string? Host, string? AgentVersion, IReadOnlyDictionary<string, string> Facts);

/// <summary>A registered agent and its key, which exists only in this answer.</summary>
internal sealed record AgentCredential(AgentRecord Agent, string Key);

/// <summary>What ingest needs to check a batch: the tenant and the key versions accepted.</summary>
internal sealed record AgentKeyState(string TenantId, int KeyVersion, int? PreviousKeyVersion, DateTimeOffset? PreviousKeyUntil, bool Revoked);

/// <summary>
/// The agents of each tenant (PostgreSQL <c>agents</c>): register, rotate, revoke, list. Keys are derived from the master
/// secret (<see cref="AgentSignature.DeriveKey"/>), so none is stored; rotation bumps the version and keeps the previous
/// one valid for <see cref="MonitoringOptions.KeyRotationGrace"/>. Every query is tenant-scoped.
/// </summary>
internal sealed class AgentRegistry(NpgsqlDataSource dataSource, MonitoringOptions options, TimeProvider time)
{
    /// <summary>How long ingest trusts its cached copy of an agent's key state (a revocation takes effect within this).</summary>
    public static readonly TimeSpan KeyStateCacheLife = TimeSpan.FromSeconds(5);
    public const int MaxNameLength = 64;

    private const string Columns = "id, tenant_id, name, key_version, previous_key_version, previous_key_until, created_at, created_by, revoked_at, " +
                                   "last_seen, last_collected, last_seq, interval_seconds, host, agent_version, facts";

    private readonly byte[] _master = options.MasterSecret();
    private readonly ConcurrentDictionary<string, (AgentKeyState? State, long Expires)> _states = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Agent, int Version), byte[]> _keys = new();

    public async Task<Outcome<AgentCredential>> RegisterAsync(Principal caller, string? name, CancellationToken cancellationToken)
    {
        name = name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
            return new Failure(FailureKind.Invalid, "validation-failed", "Invalid agent name", $"An agent's name is 1 to {MaxNameLength} printable characters, e.g. the server's host name.");

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        // One registration at a time per tenant, so the cap holds under concurrency.
        await using (var lockCommand = new NpgsqlCommand("select pg_advisory_xact_lock(hashtext('sentinel_agents'), hashtext($1))", connection, tx))
        {
            lockCommand.Parameters.Add(new NpgsqlParameter<string> { TypedValue = caller.TenantId });
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var count = new NpgsqlCommand("select count(*) from agents where tenant_id = $1 and revoked_at is null", connection, tx))
        {
            count.Parameters.Add(new NpgsqlParameter<string> { TypedValue = caller.TenantId });
            if ((long)(await count.ExecuteScalarAsync(cancellationToken))! >= options.MaxAgentsPerTenant)
                return new Failure(FailureKind.Conflict, "limit-reached", "Too many agents",
                    $"A tenant has at most {options.MaxAgentsPerTenant} active agents; revoke one you no longer use.");
        }

        var id = Ids.NewId();
        await using var insert = new NpgsqlCommand(
            $"insert into agents (id, tenant_id, name, created_by, created_at) values ($1, $2, $3, $4, $5) on conflict (tenant_id, name) do nothing returning {Columns}",
            connection, tx);
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = caller.TenantId });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = caller.Name });
        insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time.GetUtcNow() });
        var record = await ReadOneAsync(insert, cancellationToken);
        if (record is null)
            return new Failure(FailureKind.Conflict, "agent-name-taken", "Agent name taken",
                $"This tenant already has an agent named '{name}'; pick another name or rotate that agent's key.");
        await tx.CommitAsync(cancellationToken);
        return new AgentCredential(record, KeyText(record.TenantId, record.Id, record.KeyVersion));
    }

    public async Task<IReadOnlyList<AgentRecord>> ListAsync(string tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from agents where tenant_id = $1 order by name");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        var list = new List<AgentRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            list.Add(Read(reader));
        return list;
    }

    public async Task<Outcome<AgentRecord>> GetAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"select {Columns} from agents where tenant_id = $1 and id = $2");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        return await ReadOneAsync(command, cancellationToken) is { } record ? record : NotFound(id);
    }

    /// <summary>A new key version; the previous one stays valid for the grace period. Not for a revoked agent.</summary>
    public async Task<Outcome<AgentCredential>> RotateAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"update agents set previous_key_version = key_version, previous_key_until = $3, key_version = key_version + 1 " +
            $"where tenant_id = $1 and id = $2 and revoked_at is null returning {Columns}");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time.GetUtcNow() + options.KeyRotationGrace });
        var record = await ReadOneAsync(command, cancellationToken);
        if (record is null)
        {
            var existing = await GetAsync(tenantId, id, cancellationToken);
            return existing.Succeeded
                ? new Failure(FailureKind.Conflict, "agent-revoked", "Agent revoked", "A revoked agent cannot get a new key; register a new agent.")
                : existing.Failure!;
        }

        _states.TryRemove(id, out _);
        return new AgentCredential(record, KeyText(record.TenantId, record.Id, record.KeyVersion));
    }

    /// <summary>Revokes the agent: every key version stops working at once (idempotent). Its data stays.</summary>
    public async Task<Outcome<AgentRecord>> RevokeAsync(string tenantId, string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"update agents set revoked_at = coalesce(revoked_at, $3), previous_key_version = null, previous_key_until = null " +
            $"where tenant_id = $1 and id = $2 returning {Columns}");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time.GetUtcNow() });
        var record = await ReadOneAsync(command, cancellationToken);
        _states.TryRemove(id, out _);
        return record is null ? NotFound(id) : record;
    }

    /// <summary>For ingest: each agent's tenant and accepted key versions (null when unknown), cached for
    /// <see cref="KeyStateCacheLife"/>; the ones not cached are read in one query.</summary>
    public async Task<IReadOnlyDictionary<string, AgentKeyState?>> KeyStatesAsync(IEnumerable<string> agentIds, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        var result = new Dictionary<string, AgentKeyState?>(StringComparer.Ordinal);
        var missing = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in agentIds)
        {
            if (result.ContainsKey(id) || missing.Contains(id))
                continue;
            if (_states.TryGetValue(id, out var cached) && cached.Expires > now)
                result[id] = cached.State;
            else
                missing.Add(id);
        }

        if (missing.Count == 0)
            return result;
        foreach (var id in missing)
            result[id] = null;
        await using var command = dataSource.CreateCommand(
            "select id, tenant_id, key_version, previous_key_version, previous_key_until, revoked_at is not null from agents where id = any($1)");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = missing.ToArray() });
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                result[reader.GetString(0)] = new AgentKeyState(reader.GetString(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetInt32(3),
                    reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4), reader.GetBoolean(5));
        }

        if (_states.Count > 100_000)
            _states.Clear();
        var expires = now + (long)(KeyStateCacheLife.TotalSeconds * time.TimestampFrequency);
        foreach (var id in missing)
            _states[id] = (result[id], expires);
        return result;
    }

    /// <summary>The derived key of one agent key version (cached: deriving is one HMAC, but ingest asks per event).</summary>
    public byte[] Key(string tenantId, string agentId, int version)
    {
        if (_keys.Count > 100_000)
            _keys.Clear();
        return _keys.GetOrAdd((agentId, version), k => AgentSignature.DeriveKey(_master, tenantId, k.Agent, k.Version));
    }

    private string KeyText(string tenantId, string agentId, int version) => AgentSignature.EncodeKey(Key(tenantId, agentId, version));

    private static Failure NotFound(string id) =>
        new(FailureKind.NotFound, "not-found", "No such agent", $"This tenant has no agent '{(id.Length > 64 ? id[..64] : id)}'.");

    private static async Task<AgentRecord?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static AgentRecord Read(NpgsqlDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3),
        r.IsDBNull(4) ? null : r.GetInt32(4), r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5),
        r.GetFieldValue<DateTimeOffset>(6), r.GetString(7), r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8),
        r.IsDBNull(9) ? null : r.GetFieldValue<DateTimeOffset>(9), r.IsDBNull(10) ? null : r.GetFieldValue<DateTimeOffset>(10),
        r.IsDBNull(11) ? null : r.GetInt64(11), r.IsDBNull(12) ? null : r.GetInt32(12),
        r.IsDBNull(13) ? null : r.GetString(13), r.IsDBNull(14) ? null : r.GetString(14),
        JsonSerializer.Deserialize(r.GetString(15), LabelsJsonContext.Default.DictionaryStringString) ?? []);
}

/// <summary>Labels and facts as the jsonb columns hold them.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class LabelsJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
