using Microsoft.Extensions.Options;
using Sentinel.Core.Relay;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Relay;

/// <summary>Registration of the chatbot relay: routes, store, sender, dispatcher (and its pump), ingress and queries.</summary>
internal static class RelayServices
{
    public const string HttpClientName = "relay";

    public static IServiceCollection AddSentinelRelay(this IServiceCollection services)
    {
        services.AddSettings<RelayOptions>()
            .Validate(o => o.Delays.Length is >= 1 and <= 20 && o.Delays.All(d => d > TimeSpan.Zero && d <= TimeSpan.FromDays(1)),
                "Relay:RetrySchedule is 1 to 20 durations separated by commas (5s,5m,30m,2h,5h,10h,10h), each above zero and at most a day.")
            .Validate(o => o.MaxBodyBytes is >= 16 * 1024 and <= 32 * 1024 * 1024, "Relay:MaxBodyBytes is 16 KiB to 32 MiB.")
            .Validate(o => o.SignatureTolerance >= TimeSpan.FromSeconds(30) && o.SignatureTolerance <= TimeSpan.FromHours(1), "Relay:SignatureTolerance is 30 seconds to 1 hour.")
            .Validate(o => o.Concurrency is >= 1 and <= 256 && o.BreakerThreshold >= 1 && o.BreakerOpenFor > TimeSpan.Zero && o.MaxRoutesPerTenant >= 1 && o.Retention >= TimeSpan.FromDays(1),
                "Relay: Concurrency 1–256, BreakerThreshold ≥ 1, BreakerOpenFor > 0, MaxRoutesPerTenant ≥ 1, Retention ≥ 1 day.")
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<RelayOptions>>().Value);
        // Standard Webhooks: a 3xx is a failure, never followed (a redirect must not move a signed delivery elsewhere).
        services.AddHttpClient(HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                MaxConnectionsPerServer = 64,
                UseCookies = false,
            });
        services.AddSingleton<RelayRouteStore>();
        services.AddSingleton<RelayStore>();
        services.AddSingleton<RelayQueries>();
        services.AddSingleton<RelayOwnerCache>();
        services.AddSingleton(sp => new RelaySender(sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName),
            sp.GetRequiredService<RelayOptions>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<RelayDispatcher>();
        services.AddSingleton<RelayIngress>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, RelayJsonContext.Default));
        services.AddHostedService<RelayPump>();
        return services;
    }
}

/// <summary>
/// Sends what ingress just committed without waiting for the timer: drains the outbox whenever ingress signals, and
/// every few seconds in case another process committed work. The <c>relay-redrive</c> timer is the backstop that
/// holds under the Functions host, where an instance may be frozen between invocations.
/// </summary>
internal sealed partial class RelayPump(RelayDispatcher dispatcher, ILogger<RelayPump> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await dispatcher.WaitForSignalAsync(TimeSpan.FromSeconds(2), stoppingToken);
                await dispatcher.DrainAsync(TimeSpan.FromSeconds(30), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (Http.Problems.IsDependencyFailure(e))
            {
                LogDrainFailed(logger, e.GetType().Name, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    [LoggerMessage(EventId = 7020, Level = LogLevel.Warning, Message = "Relay drain failed ({Kind}: {Message}); retrying shortly")]
    private static partial void LogDrainFailed(ILogger logger, string kind, string message);
}
