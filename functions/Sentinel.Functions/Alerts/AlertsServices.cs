using Microsoft.Extensions.Options;
using Sentinel.Core.Alerts;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Alerts;

/// <summary>Registration of alerting: rules, instances and history (store) and the evaluator.</summary>
internal static class AlertsServices
{
    public static IServiceCollection AddSentinelAlerts(this IServiceCollection services)
    {
        services.AddSettings<AlertsOptions>()
            .Validate(o => o.HistoryRetention >= TimeSpan.FromDays(1), "Alerts:HistoryRetention is at least 1 day.")
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<AlertsOptions>>().Value);
        services.AddSingleton<AlertStore>();
        services.AddSingleton<AlertEvaluator>();
        services.AddSingleton<AlertSilences>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AlertsApiJsonContext.Default));
        return services;
    }
}
