using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Core.Identity;
using Sentinel.Core.Storage;
using Sentinel.Core.Storage.Tables;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.Identity;

/// <summary>The identity use cases over real Azurite and Redis, each test class with its own tables and key prefix.</summary>
public sealed class IdentityServiceTests : IAsyncLifetime
{
    private const string Password = "correct horse battery staple";
    private readonly string _keyDir = Path.Combine(Path.GetTempPath(), "sentinel-keys-" + Guid.NewGuid().ToString("N"));
    private readonly RedisConnection _redis = new(TestServers.Redis);
    private readonly TableServiceClient _tables = new(TableStorageAccount.Parse(TestServers.Tables), null, TimeProvider.System);
    private readonly IdentityOptions _options;
    private readonly IdentityDirectory _directory;
    private IdentityService _service = null!;
    private AccessTokenService _tokens = null!;

    public IdentityServiceTests()
    {
        _options = new IdentityOptions { TablePrefix = "t" + Guid.NewGuid().ToString("N")[..12], SigningKeyDirectory = _keyDir, PasswordIterations = 100_000 };
        _directory = new IdentityDirectory(_tables, _options);
    }

    public Task InitializeAsync()
    {
        _service = Build(_options.PasswordIterations);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _directory.DeleteTablesAsync(CancellationToken.None);
        await _redis.DisposeAsync();
        Directory.Delete(_keyDir, recursive: true);
    }

    private IdentityService Build(int iterations)
    {
        var keys = new RedisKeys($"test:{_options.TablePrefix}:");
        _tokens = new AccessTokenService(SigningKeyRing.Load(_options, TimeProvider.System), _options, TimeProvider.System);
        return new IdentityService(_directory, _tokens, new TokenRevocations(_redis, keys, TimeProvider.System),
            new LoginThrottle(_redis, keys, new LockoutOptions(), TimeProvider.System), new PasswordHasher(iterations), _options, TimeProvider.System,
            NullLogger<IdentityService>.Instance);
    }

    private static string Email() => $"u{Guid.NewGuid():N}@example.com";

    private async Task<TokenPair> SignupAsync(string? email = null) =>
        (await _service.SignupAsync("Acme", email ?? Email(), Password, "Ada", "10.1.1.1", CancellationToken.None)).Value!;

    private async Task<Principal> PrincipalOf(TokenPair pair) => (await _service.AuthenticateBearerAsync(pair.AccessToken, CancellationToken.None)).Value!;

    [Fact]
    public async Task Signup_MakesTheFirstUserOwnerOfANewTenant()
    {
        var pair = await SignupAsync();
        var principal = await PrincipalOf(pair);

        Assert.Equal(Role.Owner, pair.User.Role);
        Assert.Equal(pair.User.TenantId, principal.TenantId);
        Assert.Equal("Acme", (await _directory.GetTenantAsync(principal.TenantId, CancellationToken.None))!.Name);
    }

    [Fact]
    public async Task Signup_SameEmailTwice_IsConflict_EmailIsCaseInsensitive()
    {
        var email = Email();
        await SignupAsync(email);

        var again = await _service.SignupAsync("Other", email.ToUpperInvariant(), Password, null, "10.1.1.2", CancellationToken.None);

        Assert.Equal("email-taken", again.Failure!.Slug);
    }

    [Fact]
    public async Task Login_WrongPasswordAndUnknownUser_GetTheSameAnswer()
    {
        var email = Email();
        await SignupAsync(email);

        var wrong = await _service.LoginAsync(email, "not the password at all", "10.1.1.3", CancellationToken.None);
        var unknown = await _service.LoginAsync(Email(), "not the password at all", "10.1.1.3", CancellationToken.None);
        var right = await _service.LoginAsync("  " + email.ToUpperInvariant() + " ", Password, "10.1.1.3", CancellationToken.None);

        Assert.Equal(wrong.Failure, unknown.Failure);
        Assert.Equal("invalid-credentials", wrong.Failure!.Slug);
        Assert.True(right.Succeeded);
    }

    [Fact]
    public async Task Login_RaisedWorkFactor_UpgradesTheStoredHash()
    {
        var email = Email();
        var pair = await SignupAsync(email);
        var stronger = Build(150_000);

        var login = await stronger.LoginAsync(email, Password, "10.1.1.4", CancellationToken.None);
        var stored = await _directory.GetUserAsync(pair.User.TenantId, pair.User.Id, CancellationToken.None);

        Assert.True(login.Succeeded);
        Assert.StartsWith("$pbkdf2-sha256$v1$i=150000$", stored!.PasswordHash, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refresh_Rotates_AndReusingTheOldTokenRevokesTheWholeFamily()
    {
        var first = await SignupAsync();
        var second = (await _service.RefreshAsync(first.RefreshToken, CancellationToken.None)).Value!;
        var third = (await _service.RefreshAsync(second.RefreshToken, CancellationToken.None)).Value!;

        var reuse = await _service.RefreshAsync(first.RefreshToken, CancellationToken.None);
        var newestAfter = await _service.RefreshAsync(third.RefreshToken, CancellationToken.None);
        var accessAfter = await _service.AuthenticateBearerAsync(third.AccessToken, CancellationToken.None);

        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.Equal("refresh-token-reused", reuse.Failure!.Slug);
        Assert.Equal("invalid-grant", newestAfter.Failure!.Slug);
        Assert.Equal("The token has been revoked.", accessAfter.Failure!.Detail);
    }

    [Fact]
    public async Task Refresh_SameTokenConcurrently_OnlyOneWins_AndTheFamilyIsBurnt()
    {
        var pair = await SignupAsync();

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _service.RefreshAsync(pair.RefreshToken, CancellationToken.None)));
        var winner = results.Where(r => r.Succeeded).Select(r => r.Value!).ToList();

        Assert.True(winner.Count <= 1);
        Assert.Contains(results, r => r.Failure?.Slug == "refresh-token-reused");
        foreach (var w in winner)
            Assert.False((await _service.RefreshAsync(w.RefreshToken, CancellationToken.None)).Succeeded);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("rt_x")]
    [InlineData("rt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbb_cccccccccccccccccccccccccccccccccccccccccccccccccccc")]
    [InlineData("snt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbb_cccccccccccccccccccccccccccccccccccccccccccccccccccc")]
    public async Task Refresh_Garbage_IsInvalidGrant(string? token) =>
        Assert.Equal("invalid-grant", (await _service.RefreshAsync(token, CancellationToken.None)).Failure!.Slug);

    [Fact]
    public async Task Logout_RevokesTheAccessTokenAndTheSession()
    {
        var pair = await SignupAsync();
        var principal = await PrincipalOf(pair);

        await _service.LogoutAsync(principal, CancellationToken.None);

        Assert.False((await _service.AuthenticateBearerAsync(pair.AccessToken, CancellationToken.None)).Succeeded);
        Assert.False((await _service.RefreshAsync(pair.RefreshToken, CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task Admin_CreatesUsers_ButNotOwners_AndAnInvitationSetsThePassword()
    {
        var owner = await PrincipalOf(await SignupAsync());
        var adminEmail = Email();
        var admin = (await _service.CreateUserAsync(owner, adminEmail, "admin", "Ann", Password, CancellationToken.None)).Value!;
        var adminPrincipal = await PrincipalOf((await _service.LoginAsync(adminEmail, Password, "10.1.1.5", CancellationToken.None)).Value!);

        var ownerByAdmin = await _service.CreateUserAsync(adminPrincipal, Email(), "owner", null, null, CancellationToken.None);
        var invitedEmail = Email();
        var invited = (await _service.CreateUserAsync(adminPrincipal, invitedEmail, "viewer", null, null, CancellationToken.None)).Value!;
        var beforeAccept = await _service.LoginAsync(invitedEmail, Password, "10.1.1.5", CancellationToken.None);
        var accepted = await _service.AcceptInvitationAsync(invited.Invitation, Password, CancellationToken.None);
        var acceptedTwice = await _service.AcceptInvitationAsync(invited.Invitation, Password, CancellationToken.None);

        Assert.Null(admin.Invitation);
        Assert.Equal("forbidden", ownerByAdmin.Failure!.Slug);
        Assert.StartsWith("inv_", invited.Invitation, StringComparison.Ordinal);
        Assert.Equal("invalid-credentials", beforeAccept.Failure!.Slug);
        Assert.Equal(Role.Viewer, accepted.Value!.User.Role);
        Assert.Equal("invalid-invitation", acceptedTwice.Failure!.Slug);
    }

    [Fact]
    public async Task RoleChange_CutsOffTokens_Disable_RevokesSessionsAndLogin()
    {
        var owner = await PrincipalOf(await SignupAsync());
        var email = Email();
        var user = (await _service.CreateUserAsync(owner, email, "operator", null, Password, CancellationToken.None)).Value!.User;
        var session = (await _service.LoginAsync(email, Password, "10.1.1.6", CancellationToken.None)).Value!;
        await Task.Delay(1100); // cut-offs have one-second resolution, like iat

        var demoted = await _service.UpdateUserAsync(owner, user.Id, "viewer", null, null, CancellationToken.None);
        var oldToken = await _service.AuthenticateBearerAsync(session.AccessToken, CancellationToken.None);
        var refreshed = (await _service.RefreshAsync(session.RefreshToken, CancellationToken.None)).Value!;
        var disabled = await _service.UpdateUserAsync(owner, user.Id, null, true, null, CancellationToken.None);
        var refreshAfterDisable = await _service.RefreshAsync(refreshed.RefreshToken, CancellationToken.None);
        var login = await _service.LoginAsync(email, Password, "10.1.1.6", CancellationToken.None);

        Assert.Equal(Role.Viewer, demoted.Value!.Role);
        Assert.False(oldToken.Succeeded);
        Assert.Equal(Role.Viewer, refreshed.User.Role);
        Assert.True(disabled.Value!.Disabled);
        Assert.False(refreshAfterDisable.Succeeded);
        Assert.Equal("account-disabled", login.Failure!.Slug);
    }

    [Fact]
    public async Task LastOwner_CannotBeDemotedOrDisabled()
    {
        var owner = await PrincipalOf(await SignupAsync());

        var demote = await _service.UpdateUserAsync(owner, owner.SubjectId, "admin", null, null, CancellationToken.None);
        var disableSelf = await _service.UpdateUserAsync(owner, owner.SubjectId, null, true, null, CancellationToken.None);

        Assert.Equal("last-owner", demote.Failure!.Slug);
        Assert.Equal("forbidden", disableSelf.Failure!.Slug);
    }

    [Fact]
    public async Task Tenants_AreIsolated()
    {
        var a = await PrincipalOf(await SignupAsync());
        var b = await PrincipalOf(await SignupAsync());
        var userOfA = (await _service.CreateUserAsync(a, Email(), "viewer", null, Password, CancellationToken.None)).Value!.User;
        var keyOfA = (await _service.CreateApiKeyAsync(a, "ci", [Scopes.StatsRead], null, CancellationToken.None)).Value!;

        Assert.Equal("not-found", (await _service.GetUserAsync(b, userOfA.Id, CancellationToken.None)).Failure!.Slug);
        Assert.Equal("not-found", (await _service.UpdateUserAsync(b, userOfA.Id, "admin", null, null, CancellationToken.None)).Failure!.Slug);
        Assert.Equal("not-found", (await _service.RevokeApiKeyAsync(b, keyOfA.Record.Id, CancellationToken.None)).Failure!.Slug);
        Assert.DoesNotContain(await _service.ListUsersAsync(b, CancellationToken.None), u => u.TenantId == a.TenantId);
        Assert.Empty(await _service.ListApiKeysAsync(b, CancellationToken.None));
    }

    [Fact]
    public async Task ApiKeys_AuthenticateUntilRevoked_AndAreStoredOnlyAsHashes()
    {
        var owner = await PrincipalOf(await SignupAsync());
        var created = (await _service.CreateApiKeyAsync(owner, "n8n", [Scopes.RateLimitCheck], 30, CancellationToken.None)).Value!;

        var ok = await _service.AuthenticateApiKeyAsync(created.Key, CancellationToken.None);
        var forged = await _service.AuthenticateApiKeyAsync(created.Key[..^4] + "aaaa", CancellationToken.None);
        var listed = Assert.Single(await _service.ListApiKeysAsync(owner, CancellationToken.None));
        await _service.RevokeApiKeyAsync(owner, created.Record.Id, CancellationToken.None);
        var afterRevoke = await _service.AuthenticateApiKeyAsync(created.Key, CancellationToken.None);

        Assert.StartsWith(created.Record.Prefix + "_", created.Key, StringComparison.Ordinal);
        Assert.True(ok.Value!.IsApiKey);
        Assert.Equal([Scopes.RateLimitCheck], ok.Value.Scopes);
        Assert.False(forged.Succeeded);
        Assert.DoesNotContain(created.Key.Split('_')[3], System.Text.Encoding.ASCII.GetString(listed.SecretHash), StringComparison.Ordinal);
        Assert.Equal(32, listed.SecretHash.Length);
        Assert.False(afterRevoke.Succeeded);
    }

    [Fact]
    public async Task ApiKeys_PerTenantCap_CountsOnlyUnrevokedKeys()
    {
        var owner = await PrincipalOf(await SignupAsync());
        var created = new List<CreatedApiKey>();
        for (var i = 0; i < IdentityService.MaxApiKeysPerTenant; i++)
            created.Add((await _service.CreateApiKeyAsync(owner, "k" + i, [Scopes.StatsRead], null, CancellationToken.None)).Value!);

        var over = await _service.CreateApiKeyAsync(owner, "one too many", [Scopes.StatsRead], null, CancellationToken.None);
        await _service.RevokeApiKeyAsync(owner, created[0].Record.Id, CancellationToken.None);
        var afterRevoke = await _service.CreateApiKeyAsync(owner, "room again", [Scopes.StatsRead], null, CancellationToken.None);

        Assert.Equal("limit-reached", over.Failure!.Slug);
        Assert.True(afterRevoke.Succeeded);
    }

    [Theory]
    [InlineData(null, new[] { "stats:read" }, null)]
    [InlineData("ok", new string[0], null)]
    [InlineData("ok", new[] { "admin:everything" }, null)]
    [InlineData("ok", new[] { "stats:read" }, 0)]
    [InlineData("ok", new[] { "stats:read" }, 99999)]
    public async Task ApiKeys_InvalidRequests_AreRefused(string? name, string[] scopes, int? days)
    {
        var owner = await PrincipalOf(await SignupAsync());

        var result = await _service.CreateApiKeyAsync(owner, name, scopes, days, CancellationToken.None);

        Assert.Equal(FailureKind.Invalid, result.Failure!.Kind);
        Assert.Empty(await _service.ListApiKeysAsync(owner, CancellationToken.None));
    }
}
