using Sentinel.Core.Configuration;

namespace Sentinel.Core.Identity;

/// <summary>Configuration section <c>Identity</c>.</summary>
[SettingsSection(Section)]
internal sealed class IdentityOptions
{
    public const string Section = "Identity";

    /// <summary>The <c>iss</c> of our tokens and of the discovery document. Default <c>sentinel-serverless</c>; set it to the app's URL in Azure.</summary>
    public string Issuer { get; set; } = "sentinel-serverless";

    /// <summary>The <c>aud</c> of our tokens. Default <c>sentinel-api</c>.</summary>
    public string Audience { get; set; } = "sentinel-api";

    /// <summary>Access token life. Default 10 minutes.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>A refresh-token family's absolute life from login. Default 30 days.</summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Invitations expire after this. Default 7 days.</summary>
    public TimeSpan InvitationLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Clock skew tolerated on <c>exp</c>/<c>nbf</c>. Default 30 seconds.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>PBKDF2 iterations for new hashes; older hashes are upgraded at login. Default 600,000.</summary>
    public int PasswordIterations { get; set; } = PasswordHasher.DefaultIterations;

    /// <summary>
    /// Signing keys (ES256, P-256 private keys as PKCS#8 PEM), e.g. Key Vault references in Azure. The <b>last</b> one
    /// signs; all of them validate, so rotation is: append a key, wait out the access-token life, remove the old one.
    /// </summary>
    public List<SigningKeyOptions> SigningKeys { get; set; } = [];

    /// <summary>
    /// The <c>kid</c> that signs; when empty, the last configured key (or the greatest file name) signs. Setting it
    /// lets a rotation publish the next key in the JWKS first — so services caching the JWKS learn it — and switch
    /// to it later. Default none.
    /// </summary>
    public string? ActiveSigningKeyId { get; set; }

    /// <summary>A directory of <c>{kid}.pem</c> files, used when <see cref="SigningKeys"/> is empty; the greatest name signs.
    /// A key is generated there when it holds none (local runs: <c>.data/secrets/jwt</c>). Default none.</summary>
    public string? SigningKeyDirectory { get; set; }

    /// <summary><c>open</c> (default): anyone may sign up, creating a new tenant; <c>closed</c>: only invitations add users.</summary>
    public string Signup { get; set; } = "open";

    /// <summary>A first owner created at start if its email is not registered yet (<c>make run</c> prints it). Default none.</summary>
    public BootstrapAdminOptions BootstrapAdmin { get; set; } = new();

    /// <summary>Prefix of the directory's table names (letters and digits). Default <c>sentinel</c>.</summary>
    public string TablePrefix { get; set; } = "sentinel";
}

/// <summary>One configured signing key.</summary>
internal sealed class SigningKeyOptions
{
    /// <summary>The <c>kid</c>: letters, digits, <c>-</c> and <c>_</c>.</summary>
    public string Id { get; set; } = "";

    /// <summary>The P-256 private key, PKCS#8 or SEC1 PEM; or leave it empty and set <see cref="Secret"/>.</summary>
    [SecretSetting]
    public string PrivateKeyPem { get; set; } = "";

    /// <summary>
    /// Random text (at least 32 characters) the key is derived from with HKDF-SHA256 and the <c>kid</c>, for deployments
    /// where nothing can generate a PEM (azd generates this secret; see docs/deployment.md). One secret serves several
    /// kids: each derives its own key, so rotating is adding a kid, not a secret.
    /// </summary>
    [SecretSetting]
    public string Secret { get; set; } = "";
}

/// <summary>Section <c>Identity:BootstrapAdmin</c>: the first login of a new deployment.</summary>
internal sealed class BootstrapAdminOptions
{
    /// <summary>The owner's email; nothing is created when empty.</summary>
    public string? Email { get; set; }

    /// <summary>The owner's password (a Key Vault reference in Azure).</summary>
    [SecretSetting]
    public string? Password { get; set; }

    /// <summary>The tenant created for it. Default <c>Default</c>.</summary>
    public string TenantName { get; set; } = "Default";
}
