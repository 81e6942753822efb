using Sentinel.Core.Storage;

namespace Sentinel.Core.Relay;

/// <summary>
/// Redis's copy of each conversation's owner, for <c>GET /api/relay/conversations/{id}/owner</c> (an n8n flow asks it
/// cheaply). Filled on read, replaced by API hand-overs, removed by Chatwoot-driven ones; kept <see cref="Life"/> at most.
/// Routing never reads it (the PostgreSQL row is the truth), so Redis being away or a lost removal never misroutes:
/// every call is bounded and fails open.
/// </summary>
internal sealed class RelayOwnerCache(RedisConnection redis, RedisKeys keys)
{
    public static readonly TimeSpan Life = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(250);

    public async Task<string?> GetAsync(string tenantId, string conversationId, CancellationToken cancellationToken)
    {
        var (reached, value, _) = await redis.TryAsync(db => db.StringGetAsync(keys.RelayOwner(tenantId, conversationId)), Timeout, cancellationToken);
        return reached && value.HasValue ? value.ToString() : null;
    }

    public Task SetAsync(string tenantId, string conversationId, string owner) =>
        redis.TryAsync(db => db.StringSetAsync(keys.RelayOwner(tenantId, conversationId), owner, Life), Timeout, CancellationToken.None);

    public Task ForgetAsync(string tenantId, string conversationId) =>
        redis.TryAsync(db => db.KeyDeleteAsync(keys.RelayOwner(tenantId, conversationId)), Timeout, CancellationToken.None);
}
