namespace Sentinel.Core.Identity;

/// <summary>A tenant: everything else belongs to exactly one.</summary>
internal sealed record TenantRecord(string Id, string Name, DateTimeOffset CreatedAt);

/// <summary>A user of one tenant. <paramref name="PasswordHash"/> is null until an invitation is accepted.</summary>
internal sealed record UserRecord(
    string TenantId,
    string Id,
    string Email,
    string DisplayName,
    Role Role,
    string? PasswordHash,
    bool Disabled,
    DateTimeOffset CreatedAt,
    byte[]? InvitationHash = null,
    DateTimeOffset? InvitationExpiresAt = null,
    string? ETag = null);

/// <summary>An API key: only the SHA-256 of its secret is kept.</summary>
internal sealed record ApiKeyRecord(
    string TenantId,
    string Id,
    string Name,
    byte[] SecretHash,
    IReadOnlyList<string> Scopes,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    string? ETag = null)
{
    /// <summary>The public part of the key, shown in lists and logs.</summary>
    public string Prefix => ApiKeyFormat.PrefixOf(TenantId, Id);
}

/// <summary>
/// A refresh-token family (a login session): only the hash of its current refresh token is kept; presenting any
/// other token of the family is reuse, which revokes it. The last access token issued from it is remembered so
/// revoking the family revokes that too.
/// </summary>
internal sealed record SessionRecord(
    string TenantId,
    string Id,
    string UserId,
    byte[] SecretHash,
    int Generation,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    bool Revoked,
    string? AccessTokenId,
    DateTimeOffset? AccessTokenExpiresAt,
    string? ETag = null);

/// <summary>
/// Formats of the secrets we hand out. Both carry the tenant and their own id in the clear, so lookup is one point
/// read, and a 256-bit random secret of which only the SHA-256 is stored (fast to check, useless if leaked).
/// <list type="bullet">
/// <item>API key: <c>snt_{tenant}_{key}_{secret}</c>; its prefix <c>snt_{tenant}_{key}</c> is public.</item>
/// <item>Refresh token: <c>rt_{tenant}_{session}_{secret}</c>.</item>
/// <item>Invitation: <c>inv_{tenant}_{user}_{secret}</c>.</item>
/// </list>
/// </summary>
internal static class ApiKeyFormat
{
    public const string ApiKeyMarker = "snt";
    public const string RefreshMarker = "rt";
    public const string InvitationMarker = "inv";

    public static string PrefixOf(string tenantId, string id) => $"{ApiKeyMarker}_{tenantId}_{id}";

    public static string Compose(string marker, string tenantId, string id, string secret) => $"{marker}_{tenantId}_{id}_{secret}";

    /// <summary>Splits a presented secret; false for anything not exactly of the form.</summary>
    public static bool TryParse(string? value, string marker, out string tenantId, out string id, out string secret)
    {
        tenantId = id = secret = "";
        if (value is null || value.Length != marker.Length + 1 + 16 + 1 + 16 + 1 + 52)
            return false;
        var parts = value.Split('_');
        if (parts.Length != 4 || parts[0] != marker || !Ids.IsId(parts[1]) || !Ids.IsId(parts[2]) || !Ids.IsSecret(parts[3]))
            return false;
        (tenantId, id, secret) = (parts[1], parts[2], parts[3]);
        return true;
    }

    public static byte[] HashSecret(string secret) => System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(secret));
}
