using System.Security.Cryptography;
using System.Text;
using Sentinel.Core.Identity;

namespace Sentinel.Core.Tests.Identity;

/// <summary>Keys derived from a secret (what a deployment uses: azd generates the secret, Key Vault holds it).</summary>
public sealed class SigningKeyRingTests
{
    private const string Secret = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";

    [Fact]
    public void SecretDerivedKey_IsTheSameOnEveryInstance_AndDifferentPerKid()
    {
        var a = SigningKeyRing.FromSecret("k1", Secret).ToJwk();
        var b = SigningKeyRing.FromSecret("k1", Secret).ToJwk();
        var k2 = SigningKeyRing.FromSecret("k2", Secret).ToJwk();
        var other = SigningKeyRing.FromSecret("k1", Secret + "x").ToJwk();
        Assert.Equal((a.X, a.Y), (b.X, b.Y));
        Assert.NotEqual((a.X, a.Y), (k2.X, k2.Y));
        Assert.NotEqual((a.X, a.Y), (other.X, other.Y));
        Assert.Equal(("EC", "P-256", "ES256", "k1"), (a.Kty, a.Crv, a.Alg, a.Kid));
    }

    [Fact]
    public void SecretDerivedKey_SignsWhatItsPublishedPublicKeyVerifies()
    {
        var key = SigningKeyRing.FromSecret("k1", Secret);
        var data = Encoding.UTF8.GetBytes("header.payload");
        var signature = key.SecurityKey.ECDsa.SignData(data, HashAlgorithmName.SHA256);

        // Verify with only the public JWK, as a relying party would.
        var jwk = key.ToJwk();
        using var verifier = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(jwk.X), Y = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.DecodeBytes(jwk.Y) },
        });
        Assert.True(verifier.VerifyData(data, signature, HashAlgorithmName.SHA256));
        data[0] ^= 1;
        Assert.False(verifier.VerifyData(data, signature, HashAlgorithmName.SHA256));
    }

    [Fact]
    public void Load_DerivesConfiguredKids_LastSigns()
    {
        var options = new IdentityOptions
        {
            SigningKeys = [new SigningKeyOptions { Id = "k1", Secret = Secret }, new SigningKeyOptions { Id = "k2", Secret = Secret }],
        };
        var ring = SigningKeyRing.Load(options, TimeProvider.System);
        Assert.Equal("k2", ring.Active.Id);
        Assert.Equal(["k1", "k2"], ring.All.Select(k => k.Id));
        Assert.Equal(SigningKeyRing.FromSecret("k1", Secret).ToJwk(), ring.All[0].ToJwk());
    }

    [Theory]
    [InlineData("k1", "too-short")]
    [InlineData("k1", "")]
    [InlineData("bad kid", Secret)]
    public void FromSecret_RefusesShortSecretsAndBadKids(string id, string secret) =>
        Assert.Throws<InvalidOperationException>(() => SigningKeyRing.FromSecret(id, secret));
}
