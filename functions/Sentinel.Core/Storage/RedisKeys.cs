using System.Security.Cryptography;
using System.Text;

namespace Sentinel.Core.Storage;

/// <summary>
/// Every Redis key the app uses, in one place, under one prefix (<c>Redis:KeyPrefix</c>, default <c>sentinel:</c>) so
/// several deployments or test runs can share a server. Keys built from user input are hashed, which bounds their size.
/// </summary>
internal sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    public string RevokedToken(string jti) => $"{Prefix}rv:jti:{jti}";

    public string UserCutoff(string tenantId, string userId) => $"{Prefix}rv:user:{tenantId}:{userId}";

    /// <summary>A token bucket: per policy and subject. Short subjects made of key-safe characters (the gateway's
    /// principals and IPs) are used as they are; anything else (a client's key for the decision service) is hashed,
    /// which bounds its size and keeps it from colliding with the plain form.</summary>
    public string Bucket(string policy, string subject) => $"{Prefix}rl:{policy}:{(IsPlain(subject) ? subject : "h" + Hash(subject))}";

    /// <summary>The login throttle's keys for one (IP, email) pair: failures, lock, strikes.</summary>
    public (string Failures, string Lock, string Strikes) LoginThrottle(string ip, string email)
    {
        var h = Hash(ip + "\n" + email);
        return ($"{Prefix}lt:f:{h}", $"{Prefix}lt:l:{h}", $"{Prefix}lt:s:{h}");
    }

    /// <summary>The brute-force jail's keys for one client IP: its block on the sign-in routes, and its strikes (a sorted set of block times).</summary>
    public (string Block, string Strikes) AuthBlock(string ip)
    {
        var h = Hash(ip);
        return ($"{Prefix}ab:b:{h}", $"{Prefix}ab:s:{h}");
    }

    /// <summary>The relay's de-dup fast path: a message id (instance + key.id) or a webhook delivery id already taken in.</summary>
    public string RelaySeen(string tenantId, string source, string id) => $"{Prefix}rs:{tenantId}:{Hash(source + "\n" + id)}";

    /// <summary>A conversation's owner, mirrored from PostgreSQL for readers outside the relay (n8n flows can GET it).</summary>
    public string RelayOwner(string tenantId, string conversationId) => $"{Prefix}ro:{tenantId}:{conversationId}";

    private static bool IsPlain(string subject)
    {
        if (subject.Length > 96)
            return false;
        foreach (var c in subject)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is ':' or '.'))
                return false;
        }

        return true;
    }

    private static string Hash(string value)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(value), hash);
        return Convert.ToHexStringLower(hash[..12]);
    }
}
