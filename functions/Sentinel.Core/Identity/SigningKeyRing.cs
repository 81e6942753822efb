using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.Tokens;

namespace Sentinel.Core.Identity;

/// <summary>One ES256 key: its <c>kid</c> and the key itself.</summary>
internal sealed record SigningKey(string Id, ECDsaSecurityKey SecurityKey)
{
    /// <summary>The public half as a JWK (RFC 7517/7518): what <c>/.well-known/jwks.json</c> publishes.</summary>
    public JsonWebKeyDocument ToJwk()
    {
        var p = SecurityKey.ECDsa.ExportParameters(includePrivateParameters: false);
        return new JsonWebKeyDocument("EC", "sig", "ES256", Id, "P-256", Base64UrlEncoder.Encode(p.Q.X), Base64UrlEncoder.Encode(p.Q.Y));
    }
}

/// <summary>A public JWK as published.</summary>
internal sealed record JsonWebKeyDocument(string Kty, string Use, string Alg, string Kid, string Crv, string X, string Y);

/// <summary>
/// The signing keys: the active one signs, every one validates. Loaded once at start from configuration (Key Vault
/// references in Azure) or from a directory of PEM files, where a key is generated on first run.
/// </summary>
internal sealed partial class SigningKeyRing
{
    private SigningKeyRing(IReadOnlyList<SigningKey> keys, SigningKey active)
    {
        All = keys;
        Active = active;
    }

    public SigningKey Active { get; }

    public IReadOnlyList<SigningKey> All { get; }

    /// <summary>A ring of <paramref name="keys"/>; <paramref name="activeId"/> signs, or else the last key.</summary>
    public static SigningKeyRing FromKeys(IReadOnlyList<SigningKey> keys, string? activeId = null)
    {
        if (keys.Count == 0)
            throw new InvalidOperationException("At least one signing key is needed.");
        if (keys.Select(k => k.Id).Distinct(StringComparer.Ordinal).Count() != keys.Count)
            throw new InvalidOperationException("Two signing keys share a kid.");
        var active = string.IsNullOrEmpty(activeId)
            ? keys[^1]
            : keys.FirstOrDefault(k => k.Id == activeId) ?? throw new InvalidOperationException($"Identity:ActiveSigningKeyId '{activeId}' names no configured key.");
        return new SigningKeyRing(keys, active);
    }

    public static SigningKeyRing Load(IdentityOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.SigningKeys.Count > 0)
            return FromKeys(options.SigningKeys.Select(k => string.IsNullOrEmpty(k.PrivateKeyPem) ? FromSecret(k.Id, k.Secret) : FromPem(k.Id, k.PrivateKeyPem)).ToList(), options.ActiveSigningKeyId);
        if (string.IsNullOrWhiteSpace(options.SigningKeyDirectory))
            throw new InvalidOperationException("No signing key: set Identity:SigningKeys (Key Vault references in Azure) or Identity:SigningKeyDirectory.");

        var dir = Directory.CreateDirectory(options.SigningKeyDirectory);
        var files = dir.GetFiles("*.pem").OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            var id = "k" + time.GetUtcNow().ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + "-" + Ids.NewId()[..4];
            files.Add(WriteNewKey(dir.FullName, id));
        }

        return FromKeys(files.Select(f => FromPem(Path.GetFileNameWithoutExtension(f.Name), File.ReadAllText(f.FullName))).ToList(), options.ActiveSigningKeyId);
    }

    /// <summary>Writes a fresh P-256 key as <c>{id}.pem</c>, readable by its owner only.</summary>
    public static FileInfo WriteNewKey(string directory, string id)
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var path = Path.Combine(directory, id + ".pem");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
            writer.Write(ecdsa.ExportPkcs8PrivateKeyPem());
        return new FileInfo(path);
    }

    public static SigningKey FromPem(string id, string pem)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!KeyId().IsMatch(id))
            throw new InvalidOperationException($"Signing key id '{id}' must be 1–64 letters, digits, '-' or '_'.");
        var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            ecdsa.Dispose();
            throw new InvalidOperationException($"Signing key '{id}' is not a PEM EC private key.", ex);
        }

        if (ecdsa.KeySize != 256)
        {
            ecdsa.Dispose();
            throw new InvalidOperationException($"Signing key '{id}' must be a P-256 key (ES256).");
        }

        return new SigningKey(id, new ECDsaSecurityKey(ecdsa) { KeyId = id });
    }

    /// <summary>
    /// The P-256 key derived from <paramref name="secret"/> for <paramref name="id"/>: HKDF-SHA256 (RFC 5869) with the
    /// kid as info gives a 32-byte candidate scalar; candidates outside [1, n−1] are skipped by a counter in the info
    /// (probability ~2⁻³²), as FIPS 186-5 A.2.2's rejection sampling. Deterministic, so every instance derives the same key.
    /// </summary>
    public static SigningKey FromSecret(string id, string secret)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (!KeyId().IsMatch(id))
            throw new InvalidOperationException($"Signing key id '{id}' must be 1–64 letters, digits, '-' or '_'.");
        if (secret is not { Length: >= MinSecretLength })
            throw new InvalidOperationException($"Signing key '{id}' needs a PrivateKeyPem or a Secret of at least {MinSecretLength} characters.");
        var ikm = System.Text.Encoding.UTF8.GetBytes(secret);
        for (var counter = 0; ; counter++)
        {
            var d = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 32, "sentinel-jwt-es256"u8.ToArray(),
                System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id}/{counter}")));
            var scalar = new System.Numerics.BigInteger(d, isUnsigned: true, isBigEndian: true);
            if (scalar.IsZero || scalar >= P256Order)
                continue;
            // Q is computed from D on import.
            var ecdsa = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = d });
            return new SigningKey(id, new ECDsaSecurityKey(ecdsa) { KeyId = id });
        }
    }

    /// <summary>Shortest accepted <see cref="SigningKeyOptions.Secret"/>.</summary>
    public const int MinSecretLength = 32;

    private static readonly System.Numerics.BigInteger P256Order = System.Numerics.BigInteger.Parse(
        "0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex KeyId();
}
