namespace Sentinel.Core.Identity;

/// <summary>Who is calling: a user (JWT) or a machine client (API key), always inside one tenant.</summary>
/// <param name="IsApiKey">True for an API key, false for a user's access token.</param>
/// <param name="TenantId">The tenant every query of this request is scoped to.</param>
/// <param name="SubjectId">The user id, or the API key's id.</param>
/// <param name="Role">The user's role; API keys have none beyond their scopes (viewer).</param>
/// <param name="Scopes">An API key's scopes; empty for users, whose role decides.</param>
/// <param name="SessionId">The refresh-token family the access token came from (<c>sid</c>).</param>
/// <param name="TokenId">The access token's <c>jti</c>.</param>
/// <param name="ExpiresAt">When the access token expires.</param>
internal sealed record Principal(
    bool IsApiKey,
    string TenantId,
    string SubjectId,
    Role Role,
    IReadOnlyList<string> Scopes,
    string? SessionId = null,
    string? TokenId = null,
    DateTimeOffset? ExpiresAt = null)
{
    /// <summary>A stable, loggable name: <c>user:{id}</c> or <c>key:{id}</c> (never a secret). Computed once: a verified
    /// token's principal is reused by every request that presents it.</summary>
    public string Name { get; } = (IsApiKey ? "key:" : "user:") + SubjectId;

    /// <summary>What the gateway's buckets are keyed by: tenant and principal.</summary>
    public string BucketSubject { get; } = TenantId + ":" + (IsApiKey ? "key:" : "user:") + SubjectId;

    public bool HasScope(string scope) => Scopes.Contains(scope, StringComparer.Ordinal);
}
