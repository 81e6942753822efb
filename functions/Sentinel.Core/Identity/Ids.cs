using System.Security.Cryptography;

namespace Sentinel.Core.Identity;

/// <summary>Random identifiers and secrets in lowercase base32 (no padding, no ambiguity, safe in keys, URLs and headers).</summary>
internal static class Ids
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>A 16-character id (80 random bits).</summary>
    public static string NewId() => Encode(RandomNumberGenerator.GetBytes(10));

    /// <summary>A 52-character secret (256 random bits).</summary>
    public static string NewSecret() => Encode(RandomNumberGenerator.GetBytes(32));

    public static bool IsId(ReadOnlySpan<char> value) => value.Length == 16 && IsBase32(value);

    public static bool IsSecret(ReadOnlySpan<char> value) => value.Length == 52 && IsBase32(value);

    private static bool IsBase32(ReadOnlySpan<char> value)
    {
        foreach (var c in value)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '2' and <= '7')))
                return false;
        }

        return true;
    }

    private static string Encode(byte[] bytes)
    {
        var chars = new char[(bytes.Length * 8 + 4) / 5];
        int buffer = 0, bits = 0, j = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[j++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        if (bits > 0)
            chars[j++] = Alphabet[(buffer << (5 - bits)) & 31];
        return new string(chars, 0, j);
    }
}
