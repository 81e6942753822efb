using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Sentinel.Core.Storage.Tables;

namespace Sentinel.Core.Identity;

/// <summary>Tokens handed to a user at login, signup, refresh or invitation acceptance.</summary>
internal sealed record TokenPair(string AccessToken, DateTimeOffset AccessTokenExpiresAt, string RefreshToken, DateTimeOffset RefreshTokenExpiresAt, UserRecord User);

/// <summary>A user created by an admin, with the invitation to hand over when no password was set.</summary>
internal sealed record CreatedUser(UserRecord User, string? Invitation, DateTimeOffset? InvitationExpiresAt);

/// <summary>A new API key: the full secret exists only in this value (shown once).</summary>
internal sealed record CreatedApiKey(ApiKeyRecord Record, string Key);

/// <summary>
/// Identity use cases: signup, login, refresh with rotation and reuse detection, logout, user administration,
/// invitations and API keys; and authenticating each request's credentials. Returns expected failures as values.
/// </summary>
internal sealed partial class IdentityService(
    IdentityDirectory directory,
    AccessTokenService tokens,
    TokenRevocations revocations,
    LoginThrottle throttle,
    PasswordHasher hasher,
    IdentityOptions options,
    TimeProvider time,
    ILogger<IdentityService> logger)
{
    /// <summary>How long a validated API key is trusted without re-reading it (revocation on another instance takes this long).</summary>
    public static readonly TimeSpan ApiKeyCacheLife = TimeSpan.FromSeconds(30);

    /// <summary>Unrevoked API keys a tenant may hold: bounds what one admin can make the directory store.</summary>
    public const int MaxApiKeysPerTenant = 100;

    /// <summary>Users a tenant may hold.</summary>
    public const int MaxUsersPerTenant = 1_000;

    private static readonly Failure InvalidCredentials = new(FailureKind.Unauthorized, "invalid-credentials", "Invalid credentials", "The email or password is wrong.");
    private static readonly Failure InvalidGrant = new(FailureKind.Unauthorized, "invalid-grant", "Invalid refresh token", "The refresh token is unknown, expired or revoked; log in again.");
    /// <summary>The answer to a revoked access token (also given by the gateway when the rate-limit script saw it).</summary>
    public static readonly Failure TokenRevoked = new(FailureKind.Unauthorized, "invalid-token", "Invalid access token", "The token has been revoked.");

    private static readonly Failure InvalidApiKey = new(FailureKind.Unauthorized, "invalid-credentials", "Invalid API key", "The API key is unknown, expired or revoked.");

    private readonly ConcurrentDictionary<string, (ApiKeyRecord? Record, DateTimeOffset FetchedAt)> _apiKeyCache = new(StringComparer.Ordinal);

    // ---- signup, login, refresh, logout ----

    public async Task<Outcome<TokenPair>> SignupAsync(string? tenantName, string? email, string? password, string? displayName, string ip, CancellationToken cancellationToken)
    {
        if (!string.Equals(options.Signup, "open", StringComparison.OrdinalIgnoreCase))
            return new Failure(FailureKind.Forbidden, "signup-closed", "Signup is closed", "This deployment adds users by invitation only.");
        if (Validation.Name(tenantName, "tenantName", required: true) is { } badTenant)
            return badTenant;
        if (Validation.Name(displayName, "displayName", required: false) is { } badName)
            return badName;
        if (!EmailAddress.TryNormalize(email, out var normalized))
            return Validation.BadEmail;
        if (PasswordHasher.Validate(password) is { } badPassword)
            return Validation.BadPassword(badPassword);
        if (await throttle.LockedForAsync(ip, normalized, cancellationToken) is { } locked)
            return LockedOut(locked);

        var user = await CreateTenantWithOwnerAsync(tenantName!, normalized, password!, displayName, cancellationToken);
        if (user is null)
        {
            await throttle.RecordFailureAsync(ip, normalized, cancellationToken);
            return new Failure(FailureKind.Conflict, "email-taken", "Email already registered", "An account with this email exists; log in, or ask its tenant's admin for an invitation.");
        }

        LogSignup(logger, user.TenantId, user.Id);
        return await StartSessionAsync(user, cancellationToken);
    }

    /// <summary>
    /// Makes sure an owner with this email exists (the first admin login of a new deployment, from configuration):
    /// creates a tenant and its owner unless the email is already registered. Returns true when it created them.
    /// </summary>
    public async Task<bool> EnsureBootstrapOwnerAsync(string tenantName, string email, string password, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
            throw new InvalidOperationException("Identity:BootstrapAdmin:Email is not a valid email address.");
        if (PasswordHasher.Validate(password) is { } bad)
            throw new InvalidOperationException("Identity:BootstrapAdmin:Password is unusable: " + bad);
        if (await directory.FindLoginAsync(normalized, cancellationToken) is not null)
            return false;
        var user = await CreateTenantWithOwnerAsync(tenantName, normalized, password, "Administrator", cancellationToken);
        if (user is not null)
            LogSignup(logger, user.TenantId, user.Id);
        return user is not null;
    }

    /// <summary>Claims the email, then writes the tenant and its owner; null when the email is taken.</summary>
    private async Task<UserRecord?> CreateTenantWithOwnerAsync(string tenantName, string normalizedEmail, string password, string? displayName, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var tenant = new TenantRecord(Ids.NewId(), tenantName.Trim(), now);
        var user = new UserRecord(tenant.Id, Ids.NewId(), normalizedEmail, displayName?.Trim() ?? "", Role.Owner, hasher.Hash(password), false, now);
        return await ClaimEmailThenWriteAsync(user, async () =>
        {
            await directory.InsertTenantAsync(tenant, cancellationToken);
            await directory.InsertUserAsync(user, cancellationToken);
        }, cancellationToken) ? user : null;
    }

    /// <summary>
    /// Claims the user's email (unique across tenants), then runs the writes; false when the email is taken. If a
    /// write fails the email is given back so a retry can succeed (rows under the unused ids are unreachable).
    /// </summary>
    private async Task<bool> ClaimEmailThenWriteAsync(UserRecord user, Func<Task> writes, CancellationToken cancellationToken)
    {
        if (!await directory.ClaimLoginAsync(user.Email, user.TenantId, user.Id, cancellationToken))
            return false;
        try
        {
            await writes();
        }
        catch
        {
            await directory.ReleaseLoginAsync(user.Email, CancellationToken.None);
            throw;
        }

        return true;
    }

    public async Task<Outcome<TokenPair>> LoginAsync(string? email, string? password, string ip, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
            return Validation.BadEmail;
        if (password is null or { Length: 0 or > PasswordHasher.MaximumLength })
            return Validation.BadPassword($"A password of 1–{PasswordHasher.MaximumLength} characters is required.");
        if (await throttle.LockedForAsync(ip, normalized, cancellationToken) is { } locked)
            return LockedOut(locked);

        var login = await directory.FindLoginAsync(normalized, cancellationToken);
        var user = login is { } l ? await directory.GetUserAsync(l.TenantId, l.UserId, cancellationToken) : null;
        // Unknown user and wrong password do the same PBKDF2 work and get the same answer.
        var check = hasher.Verify(password, user?.PasswordHash);
        if (user is null || check == PasswordCheck.Failed)
        {
            if (await throttle.RecordFailureAsync(ip, normalized, cancellationToken) is { } started)
            {
                LogLockout(logger, started.TotalSeconds);
                return LockedOut(started);
            }

            return InvalidCredentials;
        }

        if (user.Disabled)
            return new Failure(FailureKind.Forbidden, "account-disabled", "Account disabled", "This account has been disabled by an administrator.");
        await throttle.RecordSuccessAsync(ip, normalized, cancellationToken);
        if (check == PasswordCheck.SucceededRehashNeeded)
        {
            var upgraded = user with { PasswordHash = hasher.Hash(password) };
            if (await directory.UpdateUserAsync(upgraded, cancellationToken) == TableOutcome.Ok)
                user = upgraded;
        }

        return await StartSessionAsync(user, cancellationToken);
    }

    public async Task<Outcome<TokenPair>> RefreshAsync(string? refreshToken, CancellationToken cancellationToken)
    {
        if (!ApiKeyFormat.TryParse(refreshToken, ApiKeyFormat.RefreshMarker, out var tenantId, out var sessionId, out var secret))
            return InvalidGrant;
        var session = await directory.GetSessionAsync(tenantId, sessionId, cancellationToken);
        var now = time.GetUtcNow();
        if (session is null || session.Revoked || session.ExpiresAt <= now)
            return InvalidGrant;
        if (!CryptographicOperations.FixedTimeEquals(ApiKeyFormat.HashSecret(secret), session.SecretHash))
        {
            // An older token of the family: it was stolen, or the client replayed it. Either way the family is burnt (RFC 9700 §4.14.2).
            LogRefreshReuse(logger, tenantId, sessionId);
            await RevokeSessionAsync(session, cancellationToken);
            return new Failure(FailureKind.Unauthorized, "refresh-token-reused", "Refresh token reused", "This refresh token was already used; the session is revoked. Log in again.");
        }

        var user = await directory.GetUserAsync(tenantId, session.UserId, cancellationToken);
        if (user is null || user.Disabled)
        {
            await RevokeSessionAsync(session, cancellationToken);
            return InvalidGrant;
        }

        var newSecret = Ids.NewSecret();
        var access = tokens.Issue(tenantId, user.Id, user.Role, session.Id);
        var rotated = session with
        {
            SecretHash = ApiKeyFormat.HashSecret(newSecret),
            Generation = session.Generation + 1,
            AccessTokenId = access.TokenId,
            AccessTokenExpiresAt = access.ExpiresAt,
        };
        if (await directory.UpdateSessionAsync(rotated, cancellationToken) != TableOutcome.Ok)
        {
            // Another refresh with the same token won the race: this one is a replay of a used token.
            var current = await directory.GetSessionAsync(tenantId, sessionId, cancellationToken);
            if (current is not null)
                await RevokeSessionAsync(current, cancellationToken);
            return new Failure(FailureKind.Unauthorized, "refresh-token-reused", "Refresh token reused", "This refresh token was already used; the session is revoked. Log in again.");
        }

        return new TokenPair(access.Token, access.ExpiresAt, ApiKeyFormat.Compose(ApiKeyFormat.RefreshMarker, tenantId, session.Id, newSecret), session.ExpiresAt, user);
    }

    /// <summary>Revokes the caller's access token and its session (refresh-token family).</summary>
    public async Task LogoutAsync(Principal principal, CancellationToken cancellationToken)
    {
        if (principal.IsApiKey)
            return;
        await revocations.RevokeTokenAsync(principal.TokenId!, principal.ExpiresAt ?? time.GetUtcNow(), cancellationToken);
        if (principal.SessionId is { } sid && await directory.GetSessionAsync(principal.TenantId, sid, cancellationToken) is { } session)
            await RevokeSessionAsync(session, cancellationToken);
    }

    /// <summary>Validates a bearer token and checks it was not revoked.</summary>
    public async Task<Outcome<Principal>> AuthenticateBearerAsync(string token, CancellationToken cancellationToken)
    {
        var validation = await ValidateBearerAsync(token);
        if (validation.Principal is null)
            return new Failure(FailureKind.Unauthorized, "invalid-token", "Invalid access token", validation.Failure!);
        return await CheckNotRevokedAsync(validation, cancellationToken) is { } revoked ? revoked : validation.Principal;
    }

    /// <summary>The local half of <see cref="AuthenticateBearerAsync"/>: signature, claims and lifetime, no I/O.</summary>
    public Task<AccessTokenValidation> ValidateBearerAsync(string token) => tokens.ValidateAsync(token);

    /// <summary>The Redis half of <see cref="AuthenticateBearerAsync"/>, so the gateway can run it alongside the rate-limit decision.</summary>
    public async Task<Failure?> CheckNotRevokedAsync(AccessTokenValidation validation, CancellationToken cancellationToken)
    {
        switch (await revocations.IsRevokedAsync(validation.Principal!, validation.IssuedAt, cancellationToken))
        {
            case true:
                return TokenRevoked;
            case null:
                LogRevocationUnknown(logger);
                break;
        }

        return null;
    }

    /// <summary>Finds and checks an API key (hash compared in constant time), trusting a checked key for <see cref="ApiKeyCacheLife"/>.</summary>
    public async Task<Outcome<Principal>> AuthenticateApiKeyAsync(string key, CancellationToken cancellationToken)
    {
        if (!ApiKeyFormat.TryParse(key, ApiKeyFormat.ApiKeyMarker, out var tenantId, out var keyId, out var secret))
            return InvalidApiKey;
        var now = time.GetUtcNow();
        var cacheKey = tenantId + ":" + keyId;
        ApiKeyRecord? record;
        if (_apiKeyCache.TryGetValue(cacheKey, out var cached) && now - cached.FetchedAt < ApiKeyCacheLife)
        {
            record = cached.Record;
        }
        else
        {
            record = await directory.GetApiKeyAsync(tenantId, keyId, cancellationToken);
            if (_apiKeyCache.Count > 10_000)
                _apiKeyCache.Clear();
            _apiKeyCache[cacheKey] = (record, now);
        }

        if (record is null || !CryptographicOperations.FixedTimeEquals(ApiKeyFormat.HashSecret(secret), record.SecretHash)
            || record.RevokedAt is not null || record.ExpiresAt <= now)
            return InvalidApiKey;
        return new Principal(true, tenantId, keyId, Role.Viewer, record.Scopes);
    }

    // ---- users ----

    public async Task<IReadOnlyList<UserRecord>> ListUsersAsync(Principal actor, CancellationToken cancellationToken)
    {
        var users = new List<UserRecord>();
        await foreach (var u in directory.ListUsersAsync(actor.TenantId, cancellationToken))
            users.Add(u);
        return users;
    }

    public async Task<Outcome<UserRecord>> GetUserAsync(Principal actor, string userId, CancellationToken cancellationToken) =>
        Ids.IsId(userId) && await directory.GetUserAsync(actor.TenantId, userId, cancellationToken) is { } user ? user : UserNotFound;

    public async Task<Outcome<CreatedUser>> CreateUserAsync(Principal actor, string? email, string? roleName, string? displayName, string? password, CancellationToken cancellationToken)
    {
        if (!EmailAddress.TryNormalize(email, out var normalized))
            return Validation.BadEmail;
        if (!RoleNames.TryParse(roleName, out var role))
            return Validation.BadRole;
        if (Validation.Name(displayName, "displayName", required: false) is { } badName)
            return badName;
        if (password is not null && PasswordHasher.Validate(password) is { } badPassword)
            return Validation.BadPassword(badPassword);
        if (role > actor.Role)
            return new Failure(FailureKind.Forbidden, "forbidden", "Role too high", $"A {actor.Role.ToName()} cannot grant {role.ToName()}.");
        if ((await ListUsersAsync(actor, cancellationToken)).Count >= MaxUsersPerTenant)
            return new Failure(FailureKind.Conflict, "limit-reached", "Too many users", $"A tenant holds at most {MaxUsersPerTenant} users; disable or remove some first.");

        var now = time.GetUtcNow();
        string? invitation = null;
        DateTimeOffset? invitationExpires = null;
        var user = new UserRecord(actor.TenantId, Ids.NewId(), normalized, displayName?.Trim() ?? "", role, password is null ? null : hasher.Hash(password), false, now);
        if (password is null)
        {
            var secret = Ids.NewSecret();
            invitation = ApiKeyFormat.Compose(ApiKeyFormat.InvitationMarker, actor.TenantId, user.Id, secret);
            invitationExpires = now + options.InvitationLifetime;
            user = user with { InvitationHash = ApiKeyFormat.HashSecret(secret), InvitationExpiresAt = invitationExpires };
        }

        if (!await ClaimEmailThenWriteAsync(user, () => directory.InsertUserAsync(user, cancellationToken), cancellationToken))
            return new Failure(FailureKind.Conflict, "email-taken", "Email already registered", "A user with this email exists.");

        LogUserCreated(logger, actor.TenantId, user.Id, role, actor.Name);
        return new CreatedUser(user, invitation, invitationExpires);
    }

    public async Task<Outcome<UserRecord>> UpdateUserAsync(Principal actor, string userId, string? roleName, bool? disabled, string? displayName, CancellationToken cancellationToken)
    {
        Role? newRole = null;
        if (roleName is not null)
        {
            if (!RoleNames.TryParse(roleName, out var r))
                return Validation.BadRole;
            newRole = r;
        }

        if (Validation.Name(displayName, "displayName", required: false) is { } badName)
            return badName;
        if (!Ids.IsId(userId) || await directory.GetUserAsync(actor.TenantId, userId, cancellationToken) is not { } user)
            return UserNotFound;
        if ((user.Role == Role.Owner || newRole == Role.Owner) && actor.Role != Role.Owner)
            return new Failure(FailureKind.Forbidden, "forbidden", "Owners only", "Only an owner can change an owner or grant owner.");
        if (disabled == true && userId == actor.SubjectId)
            return new Failure(FailureKind.Forbidden, "forbidden", "Cannot disable yourself", "Ask another admin to disable your account.");

        var updated = user with
        {
            Role = newRole ?? user.Role,
            Disabled = disabled ?? user.Disabled,
            DisplayName = displayName?.Trim() ?? user.DisplayName,
        };
        var losesOwner = user.Role == Role.Owner && !user.Disabled && (updated.Role != Role.Owner || updated.Disabled);
        if (losesOwner)
        {
            var owners = 0;
            await foreach (var u in directory.ListUsersAsync(actor.TenantId, cancellationToken))
            {
                if (u.Role == Role.Owner && !u.Disabled)
                    owners++;
            }

            if (owners <= 1)
                return new Failure(FailureKind.Conflict, "last-owner", "Last owner", "A tenant keeps at least one enabled owner; make someone else owner first.");
        }

        switch (await directory.UpdateUserAsync(updated, cancellationToken))
        {
            case TableOutcome.PreconditionFailed:
                return new Failure(FailureKind.Conflict, "edit-conflict", "Changed meanwhile", "The user was changed by someone else; read it again and retry.");
            case TableOutcome.NotFound:
                return UserNotFound;
        }

        if (updated.Role != user.Role || (updated.Disabled && !user.Disabled))
        {
            // Tokens carry the role: cut off the old ones so the change takes effect now, not in 10 minutes.
            await revocations.RevokeUserTokensAsync(actor.TenantId, userId, cancellationToken);
        }

        if (updated.Disabled && !user.Disabled)
        {
            await foreach (var s in directory.ListSessionsOfUserAsync(actor.TenantId, userId, cancellationToken))
            {
                if (!s.Revoked)
                    await directory.UpdateSessionAsync(s with { Revoked = true, ETag = "*" }, cancellationToken);
            }
        }

        LogUserUpdated(logger, actor.TenantId, userId, updated.Role, updated.Disabled, actor.Name);
        return await directory.GetUserAsync(actor.TenantId, userId, cancellationToken) ?? updated;
    }

    public async Task<Outcome<TokenPair>> AcceptInvitationAsync(string? invitation, string? password, CancellationToken cancellationToken)
    {
        var invalid = new Failure(FailureKind.Unauthorized, "invalid-invitation", "Invalid invitation", "The invitation is unknown, used or expired.");
        if (!ApiKeyFormat.TryParse(invitation, ApiKeyFormat.InvitationMarker, out var tenantId, out var userId, out var secret))
            return invalid;
        if (PasswordHasher.Validate(password) is { } badPassword)
            return Validation.BadPassword(badPassword);
        var user = await directory.GetUserAsync(tenantId, userId, cancellationToken);
        if (user?.InvitationHash is null || user.InvitationExpiresAt <= time.GetUtcNow() || user.Disabled
            || !CryptographicOperations.FixedTimeEquals(ApiKeyFormat.HashSecret(secret), user.InvitationHash))
            return invalid;
        var accepted = user with { PasswordHash = hasher.Hash(password!), InvitationHash = null, InvitationExpiresAt = null };
        if (await directory.UpdateUserAsync(accepted, cancellationToken) != TableOutcome.Ok)
            return invalid;
        return await StartSessionAsync(accepted, cancellationToken);
    }

    // ---- API keys ----

    public async Task<Outcome<CreatedApiKey>> CreateApiKeyAsync(Principal actor, string? name, IReadOnlyList<string>? scopes, int? expiresInDays, CancellationToken cancellationToken)
    {
        if (Validation.Name(name, "name", required: true) is { } badName)
            return badName;
        if (scopes is null || scopes.Count == 0 || scopes.Count > Scopes.All.Count || scopes.Any(s => !Scopes.IsKnown(s)))
            return new Failure(FailureKind.Invalid, "validation-failed", "Invalid scopes", $"Give one or more of: {string.Join(", ", Scopes.All)}.");
        if (expiresInDays is < 1 or > 3650)
            return new Failure(FailureKind.Invalid, "validation-failed", "Invalid expiry", "expiresInDays is between 1 and 3650, or absent for a key that does not expire.");
        if ((await ListApiKeysAsync(actor, cancellationToken)).Count(k => k.RevokedAt is null) >= MaxApiKeysPerTenant)
            return new Failure(FailureKind.Conflict, "limit-reached", "Too many API keys", $"A tenant holds at most {MaxApiKeysPerTenant} unrevoked API keys; revoke some first.");
        var now = time.GetUtcNow();
        var secret = Ids.NewSecret();
        var record = new ApiKeyRecord(actor.TenantId, Ids.NewId(), name!.Trim(), ApiKeyFormat.HashSecret(secret), scopes.Distinct(StringComparer.Ordinal).ToList(),
            actor.Name, now, expiresInDays is { } d ? now.AddDays(d) : null, null);
        await directory.InsertApiKeyAsync(record, cancellationToken);
        LogApiKeyCreated(logger, actor.TenantId, record.Id, actor.Name);
        return new CreatedApiKey(record, ApiKeyFormat.Compose(ApiKeyFormat.ApiKeyMarker, actor.TenantId, record.Id, secret));
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListApiKeysAsync(Principal actor, CancellationToken cancellationToken)
    {
        var keys = new List<ApiKeyRecord>();
        await foreach (var k in directory.ListApiKeysAsync(actor.TenantId, cancellationToken))
            keys.Add(k);
        return keys;
    }

    public async Task<Outcome<ApiKeyRecord>> RevokeApiKeyAsync(Principal actor, string keyId, CancellationToken cancellationToken)
    {
        if (!Ids.IsId(keyId) || await directory.GetApiKeyAsync(actor.TenantId, keyId, cancellationToken) is not { } key)
            return new Failure(FailureKind.NotFound, "not-found", "No such API key", "No API key with this id in your tenant.");
        _apiKeyCache.TryRemove(actor.TenantId + ":" + keyId, out _);
        if (key.RevokedAt is not null)
            return key;
        var revoked = key with { RevokedAt = time.GetUtcNow(), ETag = "*" };
        await directory.UpdateApiKeyAsync(revoked, cancellationToken);
        LogApiKeyRevoked(logger, actor.TenantId, key.Id, actor.Name);
        return revoked;
    }

    // ---- helpers ----

    private static Failure UserNotFound => new(FailureKind.NotFound, "not-found", "No such user", "No user with this id in your tenant.");

    private static Failure LockedOut(TimeSpan lockedFor) =>
        new(FailureKind.Throttled, "login-locked", "Too many failed attempts", "Too many failed attempts for this email from your address; try again later.", lockedFor);

    private async Task<TokenPair> StartSessionAsync(UserRecord user, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var sessionId = Ids.NewId();
        var secret = Ids.NewSecret();
        var access = tokens.Issue(user.TenantId, user.Id, user.Role, sessionId);
        var session = new SessionRecord(user.TenantId, sessionId, user.Id, ApiKeyFormat.HashSecret(secret), 1, now, now + options.RefreshTokenLifetime, false, access.TokenId, access.ExpiresAt);
        await directory.InsertSessionAsync(session, cancellationToken);
        return new TokenPair(access.Token, access.ExpiresAt, ApiKeyFormat.Compose(ApiKeyFormat.RefreshMarker, user.TenantId, sessionId, secret), session.ExpiresAt, user);
    }

    private async Task RevokeSessionAsync(SessionRecord session, CancellationToken cancellationToken)
    {
        if (!session.Revoked)
            await directory.UpdateSessionAsync(session with { Revoked = true, ETag = "*" }, cancellationToken);
        if (session.AccessTokenId is { } jti && session.AccessTokenExpiresAt is { } exp)
            await revocations.RevokeTokenAsync(jti, exp, cancellationToken);
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "Signup: tenant {TenantId}, owner {UserId}")]
    private static partial void LogSignup(ILogger logger, string tenantId, string userId);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Login locked out for {Seconds} s after repeated failures")]
    private static partial void LogLockout(ILogger logger, double seconds);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Refresh token reused: tenant {TenantId}, session {SessionId} revoked")]
    private static partial void LogRefreshReuse(ILogger logger, string tenantId, string sessionId);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Debug, Message = "Token revocation list unreachable (Redis); accepting a valid token unchecked")]
    private static partial void LogRevocationUnknown(ILogger logger);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "User {UserId} created in tenant {TenantId} as {Role} by {Actor}")]
    private static partial void LogUserCreated(ILogger logger, string tenantId, string userId, Role role, string actor);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "User {UserId} of tenant {TenantId} now {Role}, disabled={Disabled}, by {Actor}")]
    private static partial void LogUserUpdated(ILogger logger, string tenantId, string userId, Role role, bool disabled, string actor);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Information, Message = "API key {KeyId} created in tenant {TenantId} by {Actor}")]
    private static partial void LogApiKeyCreated(ILogger logger, string tenantId, string keyId, string actor);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "API key {KeyId} revoked in tenant {TenantId} by {Actor}")]
    private static partial void LogApiKeyRevoked(ILogger logger, string tenantId, string keyId, string actor);
}

/// <summary>Shared input checks: bounded, printable names; the common failures.</summary>
internal static class Validation
{
    public const int MaxNameLength = 100;

    public static readonly Failure BadEmail = new(FailureKind.Invalid, "validation-failed", "Invalid email", "Give a valid email address (at most 254 characters).");

    public static Failure BadPassword(string detail) => new(FailureKind.Invalid, "validation-failed", "Invalid password", detail);

    public static readonly Failure BadRole = new(FailureKind.Invalid, "validation-failed", "Invalid role", "role is one of owner, admin, operator, viewer.");

    public static Failure? Name(string? value, string field, bool required)
    {
        if (value is null || value.Trim().Length == 0)
            return required ? new Failure(FailureKind.Invalid, "validation-failed", $"Invalid {field}", $"{field} is required.") : null;
        if (value.Length > MaxNameLength)
            return new Failure(FailureKind.Invalid, "validation-failed", $"Invalid {field}", $"{field} has at most {MaxNameLength} characters.");
        foreach (var c in value)
        {
            if (char.IsControl(c))
                return new Failure(FailureKind.Invalid, "validation-failed", $"Invalid {field}", $"{field} cannot hold control characters.");
        }

        return null;
    }
}
