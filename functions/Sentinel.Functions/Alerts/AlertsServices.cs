using Microsoft.Extensions.Options;
using Sentinel.Core.Alerts;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Alerts;

/// <summary>Registration of alerting — rules, instances and history (store), the evaluator, silences, receivers and the
/// notifier — and of the heuristics and their insights.</summary>
internal static class AlertsServices
{
    public static IServiceCollection AddSentinelAlerts(this IServiceCollection services)
    {
        services.AddSettings<AlertsOptions>()
            .Validate(o => o.HistoryRetention >= TimeSpan.FromDays(1), "Alerts:HistoryRetention is at least 1 day.")
            .Validate(o => o.GroupWait >= TimeSpan.Zero && o.GroupWait <= TimeSpan.FromHours(1) && o.GroupInterval >= TimeSpan.FromSeconds(10)
                           && o.GroupInterval <= TimeSpan.FromDays(1) && o.RepeatInterval >= TimeSpan.FromMinutes(1) && o.RepeatInterval <= TimeSpan.FromDays(7),
                "Alerts: GroupWait 0s–1h, GroupInterval 10s–24h, RepeatInterval 1m–7d.")
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<AlertsOptions>>().Value);
        services.AddSingleton<AlertStore>();
        services.AddSingleton<AlertEvaluator>();
        services.AddSingleton<AlertSilences>();
        services.AddSingleton<AlertReceivers>();
        services.AddSingleton(sp => new AlertNotifier(sp.GetRequiredService<Npgsql.NpgsqlDataSource>(), sp.GetRequiredService<AlertReceivers>(),
            sp.GetRequiredService<AlertSilences>(), sp.GetRequiredService<Core.Relay.RelayDispatcher>().Signal, sp.GetRequiredService<AlertsOptions>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AlertNotifier>>()));
        services.AddSingleton<AlertNotificationSender>();
        services.AddSingleton<AlertPreview>();
        services.AddSingleton<Core.Insights.InsightStore>();
        services.AddSingleton<Core.Insights.Heuristics>();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, AlertsApiJsonContext.Default);
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, Insights.InsightsApiJsonContext.Default);
        });
        return services;
    }
}
