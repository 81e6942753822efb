using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Sentinel.Core.Identity;

/// <summary>What checking a password came to.</summary>
internal enum PasswordCheck
{
    Failed,
    Succeeded,

    /// <summary>Right password, but hashed with an older format or fewer iterations: store <see cref="PasswordHasher.Hash"/> anew.</summary>
    SucceededRehashNeeded,
}

/// <summary>
/// PBKDF2-HMAC-SHA256 with a per-user 16-byte salt, in a versioned, self-describing format
/// <c>$pbkdf2-sha256$v1$i=600000$&lt;salt&gt;$&lt;hash&gt;</c> (base64), so the work factor can be raised and old hashes
/// upgraded at the next login. 600,000 iterations is OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
/// </summary>
internal sealed class PasswordHasher
{
    public const int DefaultIterations = 600_000;
    public const int MinimumLength = 10;
    public const int MaximumLength = 256;
    private const string Prefix = "$pbkdf2-sha256$v1$i=";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    private readonly string _dummyHash;

    public PasswordHasher(int iterations = DefaultIterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        Iterations = iterations;
        // Checked against when the user does not exist, so an unknown email costs the same work as a wrong password.
        _dummyHash = Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)));
    }

    public int Iterations { get; }

    /// <summary>Why a new password is unacceptable, or null. Bounded so hashing cost cannot be abused.</summary>
    public static string? Validate(string? password) => password switch
    {
        null or "" => "A password is required.",
        { Length: < MinimumLength } => $"A password needs at least {MinimumLength} characters.",
        { Length: > MaximumLength } => $"A password has at most {MaximumLength} characters.",
        _ when string.IsNullOrWhiteSpace(password) => "A password cannot be only spaces.",
        _ => null,
    };

    public string Hash(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        Span<byte> salt = stackalloc byte[SaltBytes];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashBytes];
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, hash, Iterations, HashAlgorithmName.SHA256);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>Checks a password in constant time. A null <paramref name="stored"/> (no such user) does the same work and fails.</summary>
    public PasswordCheck Verify(string password, string? stored)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (stored is null || !TryParse(stored, out var iterations, out var salt, out var expected))
        {
            // The dummy always parses; the check's answer is thrown away.
            _ = TryParse(_dummyHash, out iterations, out salt, out expected) && Check(password, iterations, salt, expected);
            return PasswordCheck.Failed;
        }

        if (!Check(password, iterations, salt, expected))
            return PasswordCheck.Failed;
        return iterations < Iterations ? PasswordCheck.SucceededRehashNeeded : PasswordCheck.Succeeded;
    }

    private static bool Check(string password, int iterations, byte[] salt, byte[] expected)
    {
        Span<byte> actual = stackalloc byte[HashBytes];
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, actual, iterations, HashAlgorithmName.SHA256);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static bool TryParse(string stored, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0;
        salt = hash = [];
        if (!stored.StartsWith(Prefix, StringComparison.Ordinal))
            return false;
        var parts = stored[Prefix.Length..].Split('$');
        if (parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out iterations) || iterations < 1)
            return false;
        try
        {
            salt = Convert.FromBase64String(parts[1]);
            hash = Convert.FromBase64String(parts[2]);
        }
        catch (FormatException)
        {
            return false;
        }

        return salt.Length >= 8 && hash.Length == HashBytes;
    }
}
