using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using Sentinel.Core.Identity;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.Identity;

public sealed class AccessTokenServiceTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sentinel-keys-" + Guid.NewGuid().ToString("N"));
    private readonly ManualClock _clock = new(Start);
    private readonly IdentityOptions _options = new();
    private readonly string _tenant = Ids.NewId();
    private readonly string _user = Ids.NewId();
    private readonly string _session = Ids.NewId();

    public AccessTokenServiceTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private AccessTokenService Service(SigningKeyRing? ring = null, IdentityOptions? options = null) =>
        new(ring ?? SigningKeyRing.Load(new IdentityOptions { SigningKeyDirectory = _dir }, _clock), options ?? _options, _clock);

    [Fact]
    public async Task Issue_ThenValidate_GivesThePrincipal()
    {
        var service = Service();
        var token = service.Issue(_tenant, _user, Role.Admin, _session);

        var result = await service.ValidateAsync(token.Token);

        Assert.Null(result.Failure);
        Assert.Equal((_tenant, _user, Role.Admin, _session, token.TokenId), (result.Principal!.TenantId, result.Principal.SubjectId, result.Principal.Role, result.Principal.SessionId, result.Principal.TokenId));
        Assert.Equal(Start + TimeSpan.FromMinutes(10), token.ExpiresAt);
        var header = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(token.Token.Split('.')[0]));
        Assert.Contains("\"alg\":\"ES256\"", header, StringComparison.Ordinal);
        Assert.Contains($"\"kid\":\"{service.Keys.Active.Id}\"", header, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_RememberedToken_StillExpires()
    {
        var service = Service();
        var token = service.Issue(_tenant, _user, Role.Viewer, _session).Token;

        var first = await service.ValidateAsync(token);
        _clock.Advance(TimeSpan.FromMinutes(9));
        var stillGood = await service.ValidateAsync(token);
        _clock.Advance(TimeSpan.FromMinutes(2));
        var expired = await service.ValidateAsync(token);

        Assert.NotNull(first.Principal);
        Assert.NotNull(stillGood.Principal);
        Assert.Equal("The token has expired.", expired.Failure);
    }

    [Fact]
    public void Load_EmptyDirectory_GeneratesOneOwnerOnlyKey_AndReusesIt()
    {
        var first = SigningKeyRing.Load(new IdentityOptions { SigningKeyDirectory = _dir }, _clock);
        var second = SigningKeyRing.Load(new IdentityOptions { SigningKeyDirectory = _dir }, _clock);

        var file = Assert.Single(Directory.GetFiles(_dir, "*.pem"));
        Assert.Equal(first.Active.Id, second.Active.Id);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Fact]
    public async Task Rotation_NewKeySigns_OldTokensStillValidate_UntilTheOldKeyIsRemoved()
    {
        var before = Service();
        var oldToken = before.Issue(_tenant, _user, Role.Viewer, _session).Token;
        _clock.Advance(TimeSpan.FromSeconds(5));
        SigningKeyRing.WriteNewKey(_dir, "z-new");
        var during = Service();
        var newToken = during.Issue(_tenant, _user, Role.Viewer, _session);
        File.Delete(Path.Combine(_dir, before.Keys.Active.Id + ".pem"));
        var after = Service();

        Assert.Equal("z-new", during.Keys.Active.Id);
        Assert.Equal(2, during.Keys.All.Count);
        Assert.Null((await during.ValidateAsync(oldToken)).Failure);
        Assert.Null((await during.ValidateAsync(newToken.Token)).Failure);
        Assert.Equal("The token was signed with an unknown key.", (await after.ValidateAsync(oldToken)).Failure);
        Assert.Null((await after.ValidateAsync(newToken.Token)).Failure);
    }

    [Fact]
    public void Load_FromConfiguration_LastKeySigns()
    {
        using var a = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var b = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var ring = SigningKeyRing.Load(new IdentityOptions
        {
            SigningKeys = [new() { Id = "a", PrivateKeyPem = a.ExportPkcs8PrivateKeyPem() }, new() { Id = "b", PrivateKeyPem = b.ExportECPrivateKeyPem() }],
        }, _clock);

        Assert.Equal("b", ring.Active.Id);
        Assert.Equal(["a", "b"], ring.All.Select(k => k.Id));
        Assert.Equal("EC", ring.Active.ToJwk().Kty);
    }

    [Fact]
    public async Task Rotation_NextKeyPublishedFirst_ThenActivated()
    {
        SigningKeyRing.WriteNewKey(_dir, "a-current");
        SigningKeyRing.WriteNewKey(_dir, "b-next");
        var publishing = Service(SigningKeyRing.Load(new IdentityOptions { SigningKeyDirectory = _dir, ActiveSigningKeyId = "a-current" }, _clock));
        var token = publishing.Issue(_tenant, _user, Role.Viewer, _session).Token;
        var switched = Service(SigningKeyRing.Load(new IdentityOptions { SigningKeyDirectory = _dir, ActiveSigningKeyId = "b-next" }, _clock));

        Assert.Equal("a-current", publishing.Keys.Active.Id);
        Assert.Contains(publishing.Keys.All, k => k.Id == "b-next"); // in the JWKS before it signs
        Assert.Equal("b-next", switched.Keys.Active.Id);
        Assert.Null((await switched.ValidateAsync(token)).Failure);
        Assert.Throws<InvalidOperationException>(() => SigningKeyRing.Load(new IdentityOptions { SigningKeyDirectory = _dir, ActiveSigningKeyId = "nope" }, _clock));
    }

    [Fact]
    public void Load_BadKeys_FailWithAMessage()
    {
        using var rsa = RSA.Create(2048);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.Throws<InvalidOperationException>(() => SigningKeyRing.Load(new IdentityOptions(), _clock));
        Assert.Throws<InvalidOperationException>(() => SigningKeyRing.FromPem("k", "not a pem"));
        Assert.Throws<InvalidOperationException>(() => SigningKeyRing.FromPem("k", rsa.ExportPkcs8PrivateKeyPem()));
        Assert.Throws<InvalidOperationException>(() => SigningKeyRing.FromPem("k", p384.ExportPkcs8PrivateKeyPem()));
        Assert.Throws<InvalidOperationException>(() => SigningKeyRing.FromPem("bad kid!", p384.ExportPkcs8PrivateKeyPem()));
    }

    [Theory]
    [InlineData("alg-none", "The token's signature is invalid.")]
    [InlineData("hs256-with-public-key", "The token's signature is invalid.")]
    [InlineData("expired", "The token has expired.")]
    [InlineData("not-yet-valid", "The token is not valid yet.")]
    [InlineData("wrong-issuer", "The token's issuer is not accepted.")]
    [InlineData("wrong-audience", "The token's audience is not accepted.")]
    [InlineData("unknown-kid", "The token was signed with an unknown key.")]
    [InlineData("tampered-payload", "The token's signature is invalid.")]
    [InlineData("twenty-kb", "The token is too large.")]
    [InlineData("garbage", "The token is malformed.")]
    [InlineData("two-segments", "The token is malformed.")]
    [InlineData("empty-signature", null)]
    [InlineData("missing-claims", "The token lacks Sentinel's claims.")]
    public async Task Validate_HostileToken_IsRefused(string kind, string? reason)
    {
        var service = Service();
        var token = Hostile(kind, service);

        var result = await service.ValidateAsync(token);

        Assert.Null(result.Principal);
        Assert.False(string.IsNullOrEmpty(result.Failure));
        if (reason is not null)
            Assert.Equal(reason, result.Failure);
    }

    private string Hostile(string kind, AccessTokenService service)
    {
        var good = service.Issue(_tenant, _user, Role.Viewer, _session).Token;
        var parts = good.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1]));
        string Encode(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        switch (kind)
        {
            case "alg-none":
                return Encode($"{{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"{service.Keys.Active.Id}\"}}") + "." + parts[1] + ".";
            case "hs256-with-public-key":
            {
                // The classic confusion attack: HMAC keyed with the (public) verification key.
                var header = Encode($"{{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"{service.Keys.Active.Id}\"}}");
                var publicKey = Encoding.ASCII.GetBytes(service.Keys.Active.SecurityKey.ECDsa.ExportSubjectPublicKeyInfoPem());
                var sig = HMACSHA256.HashData(publicKey, Encoding.ASCII.GetBytes(header + "." + parts[1]));
                return header + "." + parts[1] + "." + Base64UrlEncoder.Encode(sig);
            }

            case "expired":
                _clock.Advance(TimeSpan.FromMinutes(11));
                return good;
            case "not-yet-valid":
            {
                _clock.Advance(TimeSpan.FromMinutes(5));
                var future = service.Issue(_tenant, _user, Role.Viewer, _session).Token;
                _clock.Advance(TimeSpan.FromMinutes(-5));
                return future;
            }

            case "wrong-issuer":
                return Service(service.Keys, new IdentityOptions { Issuer = "someone-else" }).Issue(_tenant, _user, Role.Viewer, _session).Token;
            case "wrong-audience":
                return Service(service.Keys, new IdentityOptions { Audience = "another-api" }).Issue(_tenant, _user, Role.Viewer, _session).Token;
            case "unknown-kid":
            {
                using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var ring = SigningKeyRing.FromKeys([SigningKeyRing.FromPem("stranger", other.ExportPkcs8PrivateKeyPem())]);
                return Service(ring).Issue(_tenant, _user, Role.Owner, _session).Token;
            }

            case "tampered-payload":
                return parts[0] + "." + Encode(payload.Replace("\"viewer\"", "\"owner\"", StringComparison.Ordinal)) + "." + parts[2];
            case "twenty-kb":
                return parts[0] + "." + Encode(payload.TrimEnd('}') + ",\"pad\":\"" + new string('a', 20_000) + "\"}") + "." + parts[2];
            case "garbage":
                return "this is not a token";
            case "two-segments":
                return parts[0] + "." + parts[1];
            case "empty-signature":
                return parts[0] + "." + parts[1] + ".";
            case "missing-claims":
            {
                var handler = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
                return handler.CreateToken(new SecurityTokenDescriptor
                {
                    Issuer = _options.Issuer,
                    Audience = _options.Audience,
                    Expires = (_clock.GetUtcNow() + TimeSpan.FromMinutes(5)).UtcDateTime,
                    SigningCredentials = new SigningCredentials(service.Keys.Active.SecurityKey, SecurityAlgorithms.EcdsaSha256),
                });
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(kind));
        }
    }
}
