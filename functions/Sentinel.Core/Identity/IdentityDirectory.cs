using System.Runtime.CompilerServices;
using Sentinel.Core.Storage.Tables;

namespace Sentinel.Core.Identity;

/// <summary>
/// The directory on Table storage. Every entity is partitioned by tenant, so every read is a point read or a query of
/// one tenant's partition; the one exception is <c>Logins</c>, keyed by the normalized email, which makes emails
/// unique across tenants (an insert that gets 409 lost the race) and finds a user's tenant at login.
/// <list type="table">
/// <item><term>{prefix}Tenants</term><description>PK <c>tenant</c>, RK tenant id</description></item>
/// <item><term>{prefix}Users</term><description>PK tenant id, RK user id</description></item>
/// <item><term>{prefix}Logins</term><description>PK escaped email, RK <c>login</c> → tenant id, user id</description></item>
/// <item><term>{prefix}ApiKeys</term><description>PK tenant id, RK key id</description></item>
/// <item><term>{prefix}Sessions</term><description>PK tenant id, RK session (refresh-token family) id</description></item>
/// </list>
/// </summary>
internal sealed class IdentityDirectory
{
    private readonly TableServiceClient _tables;
    private readonly string _tenants;
    private readonly string _users;
    private readonly string _logins;
    private readonly string _apiKeys;
    private readonly string _sessions;
    private readonly Lock _ensureGate = new();
    private Task? _ensuring;

    public IdentityDirectory(TableServiceClient tables, IdentityOptions options)
    {
        _tables = tables;
        var prefix = options.TablePrefix;
        (_tenants, _users, _logins, _apiKeys, _sessions) = (prefix + "Tenants", prefix + "Users", prefix + "Logins", prefix + "ApiKeys", prefix + "Sessions");
        foreach (var t in new[] { _tenants, _users, _logins, _apiKeys, _sessions })
            TableServiceClient.ValidateTableName(t);
    }

    /// <summary>Creates the tables once per process (retried on the next call if storage was down).</summary>
    public async Task EnsureTablesAsync(CancellationToken cancellationToken)
    {
        Task ensuring;
        lock (_ensureGate)
        {
            if (_ensuring is { IsFaulted: true } or { IsCanceled: true })
                _ensuring = null;
            ensuring = _ensuring ??= CreateTablesAsync();
        }

        await ensuring.WaitAsync(cancellationToken);
    }

    private async Task CreateTablesAsync()
    {
        // Not tied to one caller's token: a caller giving up must not fail the creation for the others.
        foreach (var t in new[] { _tenants, _users, _logins, _apiKeys, _sessions })
            await _tables.CreateTableIfNotExistsAsync(t, CancellationToken.None);
    }

    public async Task DeleteTablesAsync(CancellationToken cancellationToken)
    {
        foreach (var t in new[] { _tenants, _users, _logins, _apiKeys, _sessions })
            await _tables.DeleteTableAsync(t, cancellationToken);
        lock (_ensureGate)
            _ensuring = null;
    }

    // ---- tenants ----

    public async Task InsertTenantAsync(TenantRecord tenant, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var entity = new TableEntity("tenant", tenant.Id) { ["Name"] = tenant.Name, ["CreatedAt"] = tenant.CreatedAt };
        var result = await _tables.InsertEntityAsync(_tenants, entity, cancellationToken);
        if (!result.Succeeded)
            throw new InvalidOperationException($"Tenant id {tenant.Id} collided.");
    }

    public async Task<TenantRecord?> GetTenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var e = await _tables.GetEntityAsync(_tenants, "tenant", tenantId, cancellationToken);
        return e is null ? null : new TenantRecord(e.RowKey, e.GetRequiredString("Name"), e.GetDateTimeOffset("CreatedAt") ?? default);
    }

    public async Task<int> CountTenantsAsync(CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var n = 0;
        await foreach (var _ in _tables.QueryAsync(_tenants, TableFilter.PartitionKey("tenant"), ["RowKey"], cancellationToken))
            n++;
        return n;
    }

    // ---- logins (email → user) ----

    /// <summary>Claims an email for a user; false when it is taken.</summary>
    public async Task<bool> ClaimLoginAsync(string email, string tenantId, string userId, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var entity = new TableEntity(TableKey.Escape(email), "login") { ["TenantId"] = tenantId, ["UserId"] = userId };
        return (await _tables.InsertEntityAsync(_logins, entity, cancellationToken)).Succeeded;
    }

    public async Task ReleaseLoginAsync(string email, CancellationToken cancellationToken) =>
        await _tables.DeleteEntityAsync(_logins, TableKey.Escape(email), "login", "*", cancellationToken);

    public async Task<(string TenantId, string UserId)?> FindLoginAsync(string email, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var e = await _tables.GetEntityAsync(_logins, TableKey.Escape(email), "login", cancellationToken);
        return e is null ? null : (e.GetRequiredString("TenantId"), e.GetRequiredString("UserId"));
    }

    // ---- users ----

    public async Task<bool> InsertUserAsync(UserRecord user, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        return (await _tables.InsertEntityAsync(_users, ToEntity(user), cancellationToken)).Succeeded;
    }

    public async Task<UserRecord?> GetUserAsync(string tenantId, string userId, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var e = await _tables.GetEntityAsync(_users, tenantId, userId, cancellationToken);
        return e is null ? null : ToUser(e);
    }

    /// <summary>Replaces a user if it still has the ETag it was read with.</summary>
    public async Task<TableOutcome> UpdateUserAsync(UserRecord user, CancellationToken cancellationToken) =>
        (await _tables.UpdateEntityAsync(_users, ToEntity(user), user.ETag ?? "*", merge: false, cancellationToken)).Outcome;

    public async Task DeleteUserAsync(string tenantId, string userId, CancellationToken cancellationToken) =>
        await _tables.DeleteEntityAsync(_users, tenantId, userId, "*", cancellationToken);

    public async IAsyncEnumerable<UserRecord> ListUsersAsync(string tenantId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        await foreach (var e in _tables.QueryAsync(_users, TableFilter.PartitionKey(tenantId), null, cancellationToken))
            yield return ToUser(e);
    }

    // ---- API keys ----

    public async Task InsertApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        if (!(await _tables.InsertEntityAsync(_apiKeys, ToEntity(key), cancellationToken)).Succeeded)
            throw new InvalidOperationException($"API key id {key.Id} collided.");
    }

    public async Task<ApiKeyRecord?> GetApiKeyAsync(string tenantId, string keyId, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var e = await _tables.GetEntityAsync(_apiKeys, tenantId, keyId, cancellationToken);
        return e is null ? null : ToApiKey(e);
    }

    public async Task<TableOutcome> UpdateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken) =>
        (await _tables.UpdateEntityAsync(_apiKeys, ToEntity(key), key.ETag ?? "*", merge: false, cancellationToken)).Outcome;

    public async IAsyncEnumerable<ApiKeyRecord> ListApiKeysAsync(string tenantId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        await foreach (var e in _tables.QueryAsync(_apiKeys, TableFilter.PartitionKey(tenantId), null, cancellationToken))
            yield return ToApiKey(e);
    }

    // ---- sessions (refresh-token families) ----

    public async Task InsertSessionAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        if (!(await _tables.InsertEntityAsync(_sessions, ToEntity(session), cancellationToken)).Succeeded)
            throw new InvalidOperationException($"Session id {session.Id} collided.");
    }

    public async Task<SessionRecord?> GetSessionAsync(string tenantId, string sessionId, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var e = await _tables.GetEntityAsync(_sessions, tenantId, sessionId, cancellationToken);
        return e is null ? null : ToSession(e);
    }

    /// <summary>Replaces a session if it still has its ETag: of two concurrent refreshes, one wins.</summary>
    public async Task<TableOutcome> UpdateSessionAsync(SessionRecord session, CancellationToken cancellationToken) =>
        (await _tables.UpdateEntityAsync(_sessions, ToEntity(session), session.ETag ?? "*", merge: false, cancellationToken)).Outcome;

    public async IAsyncEnumerable<SessionRecord> ListSessionsOfUserAsync(string tenantId, string userId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        var filter = TableFilter.And(TableFilter.PartitionKey(tenantId), TableFilter.Equal("UserId", userId));
        await foreach (var e in _tables.QueryAsync(_sessions, filter, null, cancellationToken))
            yield return ToSession(e);
    }

    // ---- mapping ----

    private static TableEntity ToEntity(UserRecord u) => new(u.TenantId, u.Id)
    {
        ["Email"] = u.Email,
        ["DisplayName"] = u.DisplayName,
        ["Role"] = u.Role.ToName(),
        ["PasswordHash"] = u.PasswordHash,
        ["Disabled"] = u.Disabled,
        ["CreatedAt"] = u.CreatedAt,
        ["InvitationHash"] = u.InvitationHash,
        ["InvitationExpiresAt"] = u.InvitationExpiresAt,
    };

    private static UserRecord ToUser(TableEntity e) => new(
        e.PartitionKey,
        e.RowKey,
        e.GetRequiredString("Email"),
        e.GetString("DisplayName") ?? "",
        RoleNames.TryParse(e.GetString("Role"), out var role) ? role : Role.Viewer,
        e.GetString("PasswordHash"),
        e.GetBoolean("Disabled") ?? false,
        e.GetDateTimeOffset("CreatedAt") ?? default,
        e.GetBinary("InvitationHash"),
        e.GetDateTimeOffset("InvitationExpiresAt"),
        e.ETag);

    private static TableEntity ToEntity(ApiKeyRecord k) => new(k.TenantId, k.Id)
    {
        ["Name"] = k.Name,
        ["SecretHash"] = k.SecretHash,
        ["Scopes"] = string.Join(' ', k.Scopes),
        ["CreatedBy"] = k.CreatedBy,
        ["CreatedAt"] = k.CreatedAt,
        ["ExpiresAt"] = k.ExpiresAt,
        ["RevokedAt"] = k.RevokedAt,
    };

    private static ApiKeyRecord ToApiKey(TableEntity e) => new(
        e.PartitionKey,
        e.RowKey,
        e.GetString("Name") ?? "",
        e.GetBinary("SecretHash") ?? [],
        (e.GetString("Scopes") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries),
        e.GetString("CreatedBy") ?? "",
        e.GetDateTimeOffset("CreatedAt") ?? default,
        e.GetDateTimeOffset("ExpiresAt"),
        e.GetDateTimeOffset("RevokedAt"),
        e.ETag);

    private static TableEntity ToEntity(SessionRecord s) => new(s.TenantId, s.Id)
    {
        ["UserId"] = s.UserId,
        ["SecretHash"] = s.SecretHash,
        ["Generation"] = s.Generation,
        ["CreatedAt"] = s.CreatedAt,
        ["ExpiresAt"] = s.ExpiresAt,
        ["Revoked"] = s.Revoked,
        ["AccessTokenId"] = s.AccessTokenId,
        ["AccessTokenExpiresAt"] = s.AccessTokenExpiresAt,
    };

    private static SessionRecord ToSession(TableEntity e) => new(
        e.PartitionKey,
        e.RowKey,
        e.GetRequiredString("UserId"),
        e.GetBinary("SecretHash") ?? [],
        e.GetInt32("Generation") ?? 0,
        e.GetDateTimeOffset("CreatedAt") ?? default,
        e.GetDateTimeOffset("ExpiresAt") ?? default,
        e.GetBoolean("Revoked") ?? false,
        e.GetString("AccessTokenId"),
        e.GetDateTimeOffset("AccessTokenExpiresAt"),
        e.ETag);
}
