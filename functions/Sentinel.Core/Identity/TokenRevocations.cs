using System.Collections.Concurrent;
using System.Globalization;
using Sentinel.Core.Storage;

namespace Sentinel.Core.Identity;

/// <summary>
/// Access tokens denied before they expire, in Redis so every instance agrees: one key per revoked <c>jti</c>
/// (logout, refresh-token reuse) living until the token would have expired, and one cut-off per user (disable, role
/// change) denying every token issued at or before it. If Redis is unreachable the check lets tokens through (their
/// life is 10 minutes) and says so; revocations made by this instance are also kept in process and still apply.
/// </summary>
internal sealed class TokenRevocations(RedisConnection redis, RedisKeys keys, TimeProvider time)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(500);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _local = new(StringComparer.Ordinal);
    private long _unpublished;

    /// <summary>How long a user cut-off is kept: longer than any access token lives.</summary>
    public static readonly TimeSpan UserCutoffLife = TimeSpan.FromDays(1);

    public async Task RevokeTokenAsync(string jti, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        Prune();
        _local[keys.RevokedToken(jti)] = expiresAt;
        var ttl = expiresAt - time.GetUtcNow();
        if (ttl <= TimeSpan.Zero)
            return;
        // Redis away: the revocation holds on this instance (above) and the token dies within its 10 minutes anyway.
        await TrySetAsync(keys.RevokedToken(jti), "1", ttl + TimeSpan.FromMinutes(1), cancellationToken);
    }

    /// <summary>Denies every token of this user issued at or before now.</summary>
    public async Task RevokeUserTokensAsync(string tenantId, string userId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        Prune();
        _local[keys.UserCutoff(tenantId, userId)] = now;
        await TrySetAsync(keys.UserCutoff(tenantId, userId), now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), UserCutoffLife, cancellationToken);
    }

    private async Task TrySetAsync(string key, string value, TimeSpan ttl, CancellationToken cancellationToken)
    {
        if (!(await redis.TryAsync(db => db.StringSetAsync(key, value, ttl), Timeout, cancellationToken)).Reached)
            Interlocked.Increment(ref _unpublished);
    }

    /// <summary>Revocations that could not be written to Redis (they held only on this instance).</summary>
    public long Unpublished => Interlocked.Read(ref _unpublished);

    /// <summary>True when the token was revoked; null when Redis could not be asked (the caller logs and lets it through).</summary>
    public async Task<bool?> IsRevokedAsync(Principal principal, DateTimeOffset issuedAt, CancellationToken cancellationToken)
    {
        var probe = Probe(principal, issuedAt);
        if (IsRevokedLocally(probe))
            return true;
        var (reached, values, _) = await redis.TryAsync(db => db.StringGetAsync([probe.TokenKey, probe.UserKey]), Timeout, cancellationToken);
        if (!reached)
            return null;
        if (!values[0].IsNull)
            return true;
        return !values[1].IsNull && long.TryParse((string?)values[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var cut) && probe.IssuedAtSeconds <= cut;
    }

    /// <summary>The keys to look at for this token, so the rate limiter's script can check them in the same round trip.</summary>
    public RevocationProbe Probe(Principal principal, DateTimeOffset issuedAt) =>
        new(keys.RevokedToken(principal.TokenId!), keys.UserCutoff(principal.TenantId, principal.SubjectId), issuedAt.ToUnixTimeSeconds());

    /// <summary>Revocations made by this instance apply even when Redis cannot be asked.</summary>
    public bool IsRevokedLocally(RevocationProbe probe) =>
        _local.ContainsKey(probe.TokenKey) || (_local.TryGetValue(probe.UserKey, out var cut) && probe.IssuedAtSeconds <= cut.ToUnixTimeSeconds());

    /// <summary>Forgets local revocations older than any token could be (on each write, not on the request path).</summary>
    private void Prune()
    {
        if (_local.IsEmpty)
            return;
        var horizon = time.GetUtcNow() - UserCutoffLife;
        foreach (var (key, value) in _local)
        {
            if (value < horizon)
                _local.TryRemove(key, out _);
        }
    }
}

/// <summary>Where a token's revocation is recorded: its jti key, its user's cut-off key, and its <c>iat</c> (Unix seconds).</summary>
internal sealed record RevocationProbe(string TokenKey, string UserKey, long IssuedAtSeconds);
