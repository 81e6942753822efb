using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Sentinel.Core.Identity;

/// <summary>An access token as issued.</summary>
internal sealed record IssuedAccessToken(string Token, string TokenId, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt);

/// <summary>The outcome of validating an access token: a principal, or why not (safe to show the client).</summary>
internal sealed record AccessTokenValidation(Principal? Principal, string? Failure, DateTimeOffset IssuedAt = default, DateTimeOffset NotBefore = default);

/// <summary>
/// Issues and validates ES256 access tokens (RFC 7519) with <c>kid</c>, issuer and audience from configuration.
/// Validation pins the algorithm to ES256 (no <c>none</c>, no HS256-with-the-public-key confusion), requires a known
/// <c>kid</c>, bounds the token size, and checks lifetime against the injected clock. A token verified once is
/// remembered by its exact text, so repeat requests skip the signature check but not the lifetime check.
/// </summary>
internal sealed class AccessTokenService
{
    /// <summary>Larger Authorization values are refused before parsing (ours are ~600 bytes).</summary>
    public const int MaxTokenBytes = 8 * 1024;

    private readonly SigningKeyRing _keys;
    private readonly IdentityOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { MaximumTokenSizeInBytes = MaxTokenBytes, SetDefaultTimesOnTokenCreation = false };
    private readonly TokenValidationParameters _parameters;

    // Tokens whose signature, issuer, audience and claims were already checked, keyed by the exact token text: a hit
    // skips the ES256 verification (the expensive part) but never the lifetime check. Bounded: cleared when full.
    private readonly ConcurrentDictionary<string, AccessTokenValidation> _verified = new(StringComparer.Ordinal);
    private const int MaxVerified = 20_000;

    public AccessTokenService(SigningKeyRing keys, IdentityOptions options, TimeProvider time)
    {
        _keys = keys;
        _options = options;
        _time = time;
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = options.Issuer,
            ValidAudience = options.Audience,
            IssuerSigningKeys = keys.All.Select(k => (SecurityKey)k.SecurityKey).ToList(),
            ValidAlgorithms = [SecurityAlgorithms.EcdsaSha256],
            TryAllIssuerSigningKeys = false,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            // Lifetime is checked below against the injected TimeProvider, not the wall clock.
            ValidateLifetime = false,
        };
    }

    public SigningKeyRing Keys => _keys;

    public IssuedAccessToken Issue(string tenantId, string userId, Role role, string sessionId)
    {
        var now = _time.GetUtcNow();
        var expires = now + _options.AccessTokenLifetime;
        var jti = Ids.NewId();
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expires.UtcDateTime,
            SigningCredentials = new SigningCredentials(_keys.Active.SecurityKey, SecurityAlgorithms.EcdsaSha256),
            Claims = new Dictionary<string, object>
            {
                [JwtRegisteredClaimNames.Sub] = userId,
                [JwtRegisteredClaimNames.Jti] = jti,
                ["tid"] = tenantId,
                ["role"] = role.ToName(),
                ["sid"] = sessionId,
            },
        };
        return new IssuedAccessToken(_handler.CreateToken(descriptor), jti, DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds()), expires);
    }

    /// <summary>Validates signature, algorithm, kid, issuer, audience and lifetime. Revocation is the caller's next step.</summary>
    public async Task<AccessTokenValidation> ValidateAsync(string token)
    {
        if (token.Length > MaxTokenBytes)
            return new AccessTokenValidation(null, "The token is too large.");
        if (!_verified.TryGetValue(token, out var verified))
        {
            verified = await VerifyAsync(token);
            if (verified.Principal is null)
                return verified;
            if (_verified.Count >= MaxVerified)
                _verified.Clear();
            _verified[token] = verified;
        }

        var now = _time.GetUtcNow();
        if (verified.Principal!.ExpiresAt!.Value + _options.ClockSkew <= now)
        {
            _verified.TryRemove(token, out _);
            return new AccessTokenValidation(null, "The token has expired.");
        }

        if (verified.NotBefore - _options.ClockSkew > now)
            return new AccessTokenValidation(null, "The token is not valid yet.");
        return verified;
    }

    private async Task<AccessTokenValidation> VerifyAsync(string token)
    {
        var result = await _handler.ValidateTokenAsync(token, _parameters);
        if (!result.IsValid)
            return new AccessTokenValidation(null, Describe(result.Exception));
        var jwt = (JsonWebToken)result.SecurityToken;
        if (!jwt.TryGetPayloadValue<long>("exp", out var exp))
            return new AccessTokenValidation(null, "The token has no expiry.");
        if (!jwt.TryGetPayloadValue<long>("nbf", out var nbf))
            return new AccessTokenValidation(null, "The token lacks Sentinel's claims.");
        if (!jwt.TryGetPayloadValue<string>("tid", out var tid) || !Ids.IsId(tid)
            || !jwt.TryGetPayloadValue<string>("sub", out var sub) || !Ids.IsId(sub)
            || !jwt.TryGetPayloadValue<string>("role", out var roleName) || !RoleNames.TryParse(roleName, out var role)
            || !jwt.TryGetPayloadValue<string>("jti", out var jti) || !Ids.IsId(jti)
            || !jwt.TryGetPayloadValue<string>("sid", out var sid) || !Ids.IsId(sid))
            return new AccessTokenValidation(null, "The token lacks Sentinel's claims.");
        var iat = jwt.TryGetPayloadValue<long>("iat", out var i) ? DateTimeOffset.FromUnixTimeSeconds(i) : DateTimeOffset.FromUnixTimeSeconds(nbf);
        return new AccessTokenValidation(new Principal(false, tid, sub, role, [], sid, jti, DateTimeOffset.FromUnixTimeSeconds(exp)), null, iat, DateTimeOffset.FromUnixTimeSeconds(nbf));
    }

    private static string Describe(Exception? ex) => ex switch
    {
        SecurityTokenSignatureKeyNotFoundException => "The token was signed with an unknown key.",
        SecurityTokenInvalidAlgorithmException => "The token's algorithm is not accepted.",
        SecurityTokenInvalidIssuerException => "The token's issuer is not accepted.",
        SecurityTokenInvalidAudienceException => "The token's audience is not accepted.",
        SecurityTokenInvalidSignatureException => "The token's signature is invalid.",
        SecurityTokenNoExpirationException => "The token has no expiry.",
        SecurityTokenMalformedException or ArgumentException => "The token is malformed.",
        _ => "The token is invalid.",
    };
}
