using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Sentinel.Contracts.EventHubs;

/// <summary>The outcome of checking a shared access signature.</summary>
public enum SasValidation
{
    /// <summary>The token is well formed, unexpired, covers the resource and its signature matches.</summary>
    Valid,
    /// <summary>The header is not a <c>SharedAccessSignature</c> token with <c>sr</c>, <c>sig</c>, <c>se</c> and <c>skn</c>.</summary>
    Malformed,
    /// <summary>The token's expiry (<c>se</c>) is in the past.</summary>
    Expired,
    /// <summary>No key of that name is configured.</summary>
    UnknownKey,
    /// <summary>The signed resource (<c>sr</c>) does not cover the requested entity.</summary>
    WrongResource,
    /// <summary>The signature does not match.</summary>
    BadSignature,
}

/// <summary>A parsed <c>SharedAccessSignature sr=…&amp;sig=…&amp;se=…&amp;skn=…</c> token.</summary>
/// <param name="EncodedResource">The <c>sr</c> value exactly as sent (URL-encoded); it is what was signed.</param>
/// <param name="Resource">The decoded resource URI.</param>
/// <param name="Signature">The decoded base64 signature.</param>
/// <param name="Expiry">Unix seconds after which the token is invalid.</param>
/// <param name="KeyName">The policy (key) name.</param>
public sealed record SasToken(string EncodedResource, string Resource, string Signature, long Expiry, string KeyName);

/// <summary>
/// Event Hubs / Service Bus shared access signatures: the same algorithm as the service and its SDKs.
/// string-to-sign = <c>urlencode(resourceUri) + "\n" + expiry</c>; the HMAC-SHA256 key is the UTF-8 bytes of the
/// key text (not base64-decoded, unlike Storage keys). See shared/research/azure-rest-protocols.md §A8.
/// </summary>
public static class SharedAccessSignature
{
    private const string Scheme = "SharedAccessSignature ";

    /// <summary>Creates a token for <paramref name="resourceUri"/> that expires at <paramref name="expiresAt"/>.</summary>
    public static string Create(string resourceUri, string keyName, string key, DateTimeOffset expiresAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(resourceUri);
        ArgumentException.ThrowIfNullOrEmpty(keyName);
        ArgumentException.ThrowIfNullOrEmpty(key);
        var se = expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        // Encode once and use the same string in the token and the string-to-sign (the SDK does this).
        var sr = WebUtility.UrlEncode(resourceUri);
        var sig = Sign(sr, se, key);
        return $"{Scheme}sr={sr}&sig={WebUtility.UrlEncode(sig)}&se={se}&skn={WebUtility.UrlEncode(keyName)}";
    }

    /// <summary>Parses an <c>Authorization</c> header value; false when it is not a complete SAS token.</summary>
    public static bool TryParse(string? header, out SasToken? token)
    {
        token = null;
        if (header is null || header.Length > 4096 || !header.StartsWith(Scheme, StringComparison.Ordinal))
            return false;
        string? sr = null, sig = null, se = null, skn = null;
        foreach (var part in header.AsSpan(Scheme.Length).Split('&'))
        {
            var pair = header.AsSpan(Scheme.Length)[part];
            var eq = pair.IndexOf('=');
            if (eq <= 0)
                return false;
            var value = pair[(eq + 1)..].ToString();
            switch (pair[..eq])
            {
                case "sr": sr = value; break;
                case "sig": sig = value; break;
                case "se": se = value; break;
                case "skn": skn = value; break;
                default: break; // unknown fields are ignored, as the service does
            }
        }

        if (sr is null || sig is null || skn is null
            || !long.TryParse(se, NumberStyles.None, CultureInfo.InvariantCulture, out var expiry))
            return false;
        token = new SasToken(sr, WebUtility.UrlDecode(sr), WebUtility.UrlDecode(sig), expiry, WebUtility.UrlDecode(skn));
        return true;
    }

    /// <summary>
    /// Checks <paramref name="header"/> against the keys in <paramref name="keys"/> for a request to
    /// <paramref name="entityUri"/> (e.g. <c>https://ns.servicebus.windows.net/hub</c>) at <paramref name="now"/>.
    /// A token signed for a parent of the entity (the namespace root) is valid for it, as in the service.
    /// </summary>
    public static SasValidation Validate(string? header, Uri entityUri, IReadOnlyDictionary<string, string> keys, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(entityUri);
        ArgumentNullException.ThrowIfNull(keys);
        if (!TryParse(header, out var token) || token is null)
            return SasValidation.Malformed;
        if (token.Expiry <= now.ToUnixTimeSeconds())
            return SasValidation.Expired;
        if (!keys.TryGetValue(token.KeyName, out var key))
            return SasValidation.UnknownKey;
        if (!Covers(token.Resource, entityUri))
            return SasValidation.WrongResource;

        var expected = Sign(token.EncodedResource, token.Expiry.ToString(CultureInfo.InvariantCulture), key);
        Span<byte> expectedBytes = stackalloc byte[32];
        Span<byte> actualBytes = stackalloc byte[64];
        if (!Convert.TryFromBase64String(expected, expectedBytes, out _)
            || !Convert.TryFromBase64String(token.Signature, actualBytes, out var actualLength)
            || actualLength != 32)
            return SasValidation.BadSignature;
        return CryptographicOperations.FixedTimeEquals(expectedBytes, actualBytes[..32])
            ? SasValidation.Valid
            : SasValidation.BadSignature;
    }

    private static bool Covers(string resource, Uri entityUri)
    {
        // The service compares scheme-less "host/path" prefixes case-insensitively; sb:// and https:// both occur.
        static string Normalize(string uri)
        {
            var s = uri.Trim();
            var scheme = s.IndexOf("://", StringComparison.Ordinal);
            if (scheme >= 0)
                s = s[(scheme + 3)..];
            return s.TrimEnd('/').ToUpperInvariant();
        }

        var signed = Normalize(resource);
        var entity = Normalize(entityUri.GetLeftPart(UriPartial.Path));
        return entity.Length >= signed.Length
            && entity.StartsWith(signed, StringComparison.Ordinal)
            && (entity.Length == signed.Length || entity[signed.Length] == '/');
    }

    private static string Sign(string encodedResource, string expiry, string key)
    {
        var toSign = Encoding.UTF8.GetBytes(encodedResource + "\n" + expiry);
        Span<byte> hash = stackalloc byte[32];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), toSign, hash);
        return Convert.ToBase64String(hash);
    }
}
