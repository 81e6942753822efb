using Sentinel.Core.Alerts;

namespace Sentinel.Functions.Alerts;

/// <summary>Registration of alerting: rules, instances and history (store) and the evaluator.</summary>
internal static class AlertsServices
{
    public static IServiceCollection AddSentinelAlerts(this IServiceCollection services)
    {
        services.AddSingleton<AlertStore>();
        services.AddSingleton<AlertEvaluator>();
        services.AddSingleton<AlertSilences>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AlertsApiJsonContext.Default));
        return services;
    }
}
