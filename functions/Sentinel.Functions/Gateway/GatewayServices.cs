using Microsoft.Extensions.Options;
using Sentinel.Core.Configuration;
using Sentinel.Core.Identity;
using Sentinel.Core.RateLimiting;
using Sentinel.Core.RequestLog;
using Sentinel.Core.Storage;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Gateway;

/// <summary>Registration and pipeline wiring of the gateway: identity, rate limiting and the request log.</summary>
internal static class GatewayServices
{
    /// <summary>Prefix of every Redis key (default <c>sentinel:</c>), for sharing one Redis between deployments.</summary>
    [AppSetting]
    public const string RedisKeyPrefixSetting = "Redis:KeyPrefix";

    public static IServiceCollection AddSentinelGateway(this IServiceCollection services)
    {
        services.AddSettings<IdentityOptions>()
            .Validate(o => o.AccessTokenLifetime >= TimeSpan.FromMinutes(1) && o.AccessTokenLifetime <= TimeSpan.FromHours(1), "Identity:AccessTokenLifetime is between 1 minute and 1 hour.")
            .Validate(o => o.PasswordIterations >= 100_000, "Identity:PasswordIterations is at least 100,000.")
            .Validate(o => o.Signup is "open" or "closed", "Identity:Signup is 'open' or 'closed'.")
            .Validate(o => o.SigningKeys.Count > 0 || !string.IsNullOrWhiteSpace(o.SigningKeyDirectory),
                "No token signing key: set Identity:SigningKeys:0:Id and Identity:SigningKeys:0:Secret or :PrivateKeyPem (Key Vault references in Azure), or Identity:SigningKeyDirectory.")
            .Validate(o => o.SigningKeys.All(k => k.PrivateKeyPem.Length > 0 || k.Secret.Length >= SigningKeyRing.MinSecretLength),
                "Each Identity:SigningKeys entry needs a PrivateKeyPem or a Secret of at least 32 characters.")
            .Validate(o => o.TablePrefix.Length is >= 1 and <= 40 && o.TablePrefix.All(char.IsAsciiLetterOrDigit) && char.IsAsciiLetter(o.TablePrefix[0]), "Identity:TablePrefix is letters and digits, starting with a letter.")
            .ValidateOnStart();
        services.AddSettings<LockoutOptions>()
            .Validate(o => o.MaxFailures >= 2 && o.Window > TimeSpan.Zero && o.Duration > TimeSpan.Zero && o.MaxDuration >= o.Duration, "Identity:Lockout needs MaxFailures ≥ 2 and positive durations.")
            .ValidateOnStart();
        services.AddSettings<RateLimitingOptions>()
            .PostConfigure(o =>
            {
                foreach (var (name, policy) in o.Policies.Concat(o.ServicePolicies))
                    policy.Name = name;
            })
            .Validate(o => o.Policies.ContainsKey(GatewayDefaults.ApiPolicy) && o.Policies.ContainsKey(GatewayDefaults.AnonymousPolicy) && o.Policies.ContainsKey(GatewayDefaults.AuthPolicy),
                "RateLimiting:Policies must define api, anonymous and auth.")
            .Validate(o => o.Policies.Values.Concat(o.ServicePolicies.Values).All(p => p.Validate() is null), "A rate-limit policy is invalid: each needs Capacity ≥ 1, RefillPerSecond > 0 and 0 < Cost ≤ Capacity.")
            .ValidateOnStart();
        services.AddSettings<RequestLogOptions>()
            .Validate(o => o.Capacity is >= 1 and <= 1_000_000 && o.BatchSize is >= 1 and <= 100_000 && o.FlushInterval > TimeSpan.Zero && o.Retention >= TimeSpan.FromDays(1),
                "RequestLog: Capacity 1–1,000,000, BatchSize 1–100,000, FlushInterval > 0, Retention at least 1 day.")
            .ValidateOnStart();

        services.AddSingleton(sp => new RedisKeys(sp.GetRequiredService<IConfiguration>()[RedisKeyPrefixSetting] is { Length: > 0 } prefix ? prefix : "sentinel:"));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<IdentityOptions>>().Value);
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<LockoutOptions>>().Value);
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<RequestLogOptions>>().Value);
        services.AddSingleton(sp => SigningKeyRing.Load(sp.GetRequiredService<IdentityOptions>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new PasswordHasher(sp.GetRequiredService<IdentityOptions>().PasswordIterations));
        services.AddSingleton<AccessTokenService>();
        services.AddSingleton<TokenRevocations>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<IdentityDirectory>();
        services.AddSingleton<IdentityService>();
        services.AddSingleton<AuthBlocks>();
        services.AddSingleton(sp => new RateLimiter(sp.GetRequiredService<RedisConnection>(), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<RateLimiter>>(), sp.GetRequiredService<IOptions<RateLimitingOptions>>().Value.RedisTimeout));
        services.AddSingleton<RequestLogWriter>();
        services.AddHostedService<GatewayStartup>();
        services.AddHostedService<RequestLogService>();
        services.AddSingleton<GatewayStats>();
        services.AddSingleton<RequestLogRetention>();
        services.AddSingleton<GatewayMiddleware>();

        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, GatewayJsonContext.Default));
        return services;
    }

    /// <summary>Runs the gateway middleware on API paths only (custom-handler invocations and the dashboard are not API requests).</summary>
    public static WebApplication UseSentinelGateway(this WebApplication app)
    {
        app.UseWhen(http => GatewayMiddleware.Applies(http.Request.Path), branch => branch.UseMiddleware<GatewayMiddleware>());
        return app;
    }

    public static IEndpointRouteBuilder MapSentinelGateway(this IEndpointRouteBuilder app) =>
        app.MapAuthEndpoints().MapDirectoryEndpoints().MapGatewayEndpoints();
}

/// <summary>
/// Right after start, off the start-up path (the Functions host waits for the handler's first answer, and loading
/// the crypto library costs a cold start ~250 ms): loads the signing keys — a bad key stops the host with its
/// reason instead of failing the first login — and creates the bootstrap owner when configured. Storage being down
/// delays the owner, not the start.
/// </summary>
internal sealed partial class GatewayStartup(IServiceProvider services, IdentityOptions options, IHostApplicationLifetime lifetime, ILogger<GatewayStartup> logger) : IHostedService
{
    private Task? _running;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _running = Task.Run(() => RunAsync(lifetime.ApplicationStopping), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_running is not null)
            await _running.WaitAsync(cancellationToken);
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            var ring = services.GetRequiredService<SigningKeyRing>();
            LogKeys(logger, ring.Active.Id, ring.All.Count);
        }
        catch (InvalidOperationException ex)
        {
            LogBadKeys(logger, ex.Message);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
            return;
        }

        var admin = options.BootstrapAdmin;
        if (string.IsNullOrWhiteSpace(admin.Email) || string.IsNullOrEmpty(admin.Password))
            return;
        try
        {
            if (await services.GetRequiredService<IdentityService>().EnsureBootstrapOwnerAsync(admin.TenantName, admin.Email, admin.Password, stopping))
                LogBootstrap(logger, admin.Email);
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or InvalidOperationException or AggregateException)
        {
            LogBootstrapFailed(logger, ex.Message);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 5403, Level = LogLevel.Critical, Message = "Signing keys unusable, stopping: {Error}")]
    private static partial void LogBadKeys(ILogger logger, string error);

    [LoggerMessage(EventId = 5400, Level = LogLevel.Information, Message = "Access tokens signed with key {KeyId}; {Count} key(s) validate")]
    private static partial void LogKeys(ILogger logger, string keyId, int count);

    [LoggerMessage(EventId = 5401, Level = LogLevel.Information, Message = "Bootstrap owner {Email} created")]
    private static partial void LogBootstrap(ILogger logger, string email);

    [LoggerMessage(EventId = 5402, Level = LogLevel.Warning, Message = "Bootstrap owner not created: {Error}")]
    private static partial void LogBootstrapFailed(ILogger logger, string error);
}

/// <summary>
/// Runs the request-log writer for the life of the host, draining it at shutdown. The writer (and with it the
/// PostgreSQL data source) is resolved on the background task, not on the start-up path.
/// </summary>
internal sealed class RequestLogService(IServiceProvider services) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _abort = new();
    private Task? _running;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _running = Task.Run(() => services.GetRequiredService<RequestLogWriter>().RunAsync(_abort.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_running is null)
            return;
        services.GetRequiredService<RequestLogWriter>().Complete();
        try
        {
            // Drain what is queued; give up only when the host's shutdown timeout says so.
            await _running.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await _abort.CancelAsync();
        }
    }

    public void Dispose() => _abort.Dispose();
}
