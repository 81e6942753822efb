using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Sentinel.Contracts.Metrics;

/// <summary>
/// Agent keys and batch signatures. An agent's key is derived, never stored: <c>HMAC-SHA256(master secret,
/// "sentinel-agent-key\n{tenant}\n{agent}\n{version}")</c>; rotating it is a version bump. Each Event Hubs event carries the
/// agent id, key version, a timestamp (Unix seconds, taken when the event is sent, so a batch that waited in the spool
/// is not stale) and <c>v1=base64(HMAC-SHA256(key, "{agent}.{version}.{timestamp}." + body))</c> in its user properties.
/// </summary>
public static class AgentSignature
{
    public const string AgentProperty = "sentinel-agent";
    public const string KeyVersionProperty = "sentinel-key-version";
    public const string TimestampProperty = "sentinel-timestamp";
    public const string SignatureProperty = "sentinel-signature";
    public const string SchemePrefix = "v1=";

    /// <summary>An agent key is 32 bytes; on the wire and in config it is base64url without padding.</summary>
    public const int KeyBytes = 32;

    public static byte[] DeriveKey(ReadOnlySpan<byte> masterSecret, string tenantId, string agentId, int version)
    {
        var info = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"sentinel-agent-key\n{tenantId}\n{agentId}\n{version}"));
        return HMACSHA256.HashData(masterSecret, info);
    }

    public static string EncodeKey(ReadOnlySpan<byte> key) =>
        Convert.ToBase64String(key).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Decodes a base64url key; false when it is not exactly <see cref="KeyBytes"/> bytes.</summary>
    public static bool TryDecodeKey(string? text, out byte[] key)
    {
        key = [];
        if (string.IsNullOrWhiteSpace(text) || text.Length > 64)
            return false;
        var s = text.Trim().Replace('-', '+').Replace('_', '/');
        s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
        var buffer = new byte[48];
        if (!Convert.TryFromBase64String(s, buffer, out var written) || written != KeyBytes)
            return false;
        key = buffer[..KeyBytes];
        return true;
    }

    /// <summary>The signature property's value for a body.</summary>
    public static string Sign(ReadOnlySpan<byte> key, string agentId, int keyVersion, long timestamp, ReadOnlySpan<byte> body) =>
        SchemePrefix + Convert.ToBase64String(Mac(key, agentId, keyVersion, timestamp, body));

    /// <summary>Constant-time check of a signature property value against the body.</summary>
    public static bool Verify(ReadOnlySpan<byte> key, string agentId, int keyVersion, long timestamp, ReadOnlySpan<byte> body, string? signature)
    {
        if (signature is null || !signature.StartsWith(SchemePrefix, StringComparison.Ordinal) || signature.Length > 100)
            return false;
        Span<byte> presented = stackalloc byte[64];
        if (!Convert.TryFromBase64String(signature[SchemePrefix.Length..], presented, out var n) || n != 32)
            return false;
        var expected = Mac(key, agentId, keyVersion, timestamp, body);
        return CryptographicOperations.FixedTimeEquals(expected, presented[..n]);
    }

    private static byte[] Mac(ReadOnlySpan<byte> key, string agentId, int keyVersion, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{agentId}.{keyVersion}.{timestamp}."));
        using var mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        mac.AppendData(prefix);
        mac.AppendData(body);
        return mac.GetHashAndReset();
    }
}
