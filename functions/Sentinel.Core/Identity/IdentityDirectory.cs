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
    private readonly TableSet _set;

    public IdentityDirectory(TableServiceClient tables, IdentityOptions options)
    {
        _tables = tables;
        var prefix = options.TablePrefix;
        (_tenants, _users, _logins, _apiKeys, _sessions) = (prefix + "Tenants", prefix + "Users", prefix + "Logins", prefix + "ApiKeys", prefix + "Sessions");
        _set = new TableSet(tables, TableNames(prefix));
    }

    /// <summary>The directory's tables for a prefix (the deployment creates them up front).</summary>
    public static string[] TableNames(string prefix) => [prefix + "Tenants", prefix + "Users", prefix + "Logins", prefix + "ApiKeys", prefix + "Sessions"];

    /// <summary>Creates the tables once per process (retried on the next call if storage was down).</summary>
    public Task EnsureTablesAsync(CancellationToken cancellationToken) => _set.EnsureAsync(cancellationToken);

    public Task DeleteTablesAsync(CancellationToken cancellationToken) => _set.DeleteAsync(cancellationToken);

    // ---- tenants ----

    public Task InsertTenantAsync(TenantRecord tenant, CancellationToken cancellationToken) =>
        InsertNewAsync(_tenants, new TableEntity("tenant", tenant.Id) { ["Name"] = tenant.Name, ["CreatedAt"] = tenant.CreatedAt }, cancellationToken);

    public Task<TenantRecord?> GetTenantAsync(string tenantId, CancellationToken cancellationToken) =>
        GetAsync(_tenants, "tenant", tenantId, e => new TenantRecord(e.RowKey, e.GetRequiredString("Name"), e.GetDateTimeOffset("CreatedAt") ?? default), cancellationToken);

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

    public Task InsertUserAsync(UserRecord user, CancellationToken cancellationToken) => InsertNewAsync(_users, ToEntity(user), cancellationToken);

    public Task<UserRecord?> GetUserAsync(string tenantId, string userId, CancellationToken cancellationToken) =>
        GetAsync(_users, tenantId, userId, ToUser, cancellationToken);

    /// <summary>Replaces a user if it still has the ETag it was read with.</summary>
    public Task<TableOutcome> UpdateUserAsync(UserRecord user, CancellationToken cancellationToken) =>
        ReplaceAsync(_users, ToEntity(user), user.ETag, cancellationToken);

    public IAsyncEnumerable<UserRecord> ListUsersAsync(string tenantId, CancellationToken cancellationToken) =>
        ListAsync(_users, TableFilter.PartitionKey(tenantId), ToUser, cancellationToken);

    // ---- API keys ----

    public Task InsertApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken) => InsertNewAsync(_apiKeys, ToEntity(key), cancellationToken);

    public Task<ApiKeyRecord?> GetApiKeyAsync(string tenantId, string keyId, CancellationToken cancellationToken) =>
        GetAsync(_apiKeys, tenantId, keyId, ToApiKey, cancellationToken);

    public Task<TableOutcome> UpdateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken) =>
        ReplaceAsync(_apiKeys, ToEntity(key), key.ETag, cancellationToken);

    public IAsyncEnumerable<ApiKeyRecord> ListApiKeysAsync(string tenantId, CancellationToken cancellationToken) =>
        ListAsync(_apiKeys, TableFilter.PartitionKey(tenantId), ToApiKey, cancellationToken);

    // ---- sessions (refresh-token families) ----

    public Task InsertSessionAsync(SessionRecord session, CancellationToken cancellationToken) => InsertNewAsync(_sessions, ToEntity(session), cancellationToken);

    public Task<SessionRecord?> GetSessionAsync(string tenantId, string sessionId, CancellationToken cancellationToken) =>
        GetAsync(_sessions, tenantId, sessionId, ToSession, cancellationToken);

    /// <summary>Replaces a session if it still has its ETag: of two concurrent refreshes, one wins.</summary>
    public Task<TableOutcome> UpdateSessionAsync(SessionRecord session, CancellationToken cancellationToken) =>
        ReplaceAsync(_sessions, ToEntity(session), session.ETag, cancellationToken);

    public IAsyncEnumerable<SessionRecord> ListSessionsOfUserAsync(string tenantId, string userId, CancellationToken cancellationToken) =>
        ListAsync(_sessions, TableFilter.And(TableFilter.PartitionKey(tenantId), TableFilter.Equal("UserId", userId)), ToSession, cancellationToken);

    // ---- the four shapes every entity uses ----

    /// <summary>Inserts an entity under a fresh random id; a 409 means the id collided (80 random bits: a bug, not a race).</summary>
    private async Task InsertNewAsync(string table, TableEntity entity, CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        if (!(await _tables.InsertEntityAsync(table, entity, cancellationToken)).Succeeded)
            throw new InvalidOperationException($"{table} id {entity.PartitionKey}/{entity.RowKey} collided.");
    }

    private async Task<T?> GetAsync<T>(string table, string partitionKey, string rowKey, Func<TableEntity, T> map, CancellationToken cancellationToken)
        where T : class
    {
        await EnsureTablesAsync(cancellationToken);
        return await _tables.GetEntityAsync(table, partitionKey, rowKey, cancellationToken) is { } e ? map(e) : null;
    }

    private async Task<TableOutcome> ReplaceAsync(string table, TableEntity entity, string? etag, CancellationToken cancellationToken) =>
        (await _tables.UpdateEntityAsync(table, entity, etag ?? "*", merge: false, cancellationToken)).Outcome;

    private async IAsyncEnumerable<T> ListAsync<T>(string table, string filter, Func<TableEntity, T> map, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await EnsureTablesAsync(cancellationToken);
        await foreach (var e in _tables.QueryAsync(table, filter, null, cancellationToken))
            yield return map(e);
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
