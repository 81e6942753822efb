using Microsoft.Extensions.Options;
using Sentinel.Core.Monitoring;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Monitoring;

/// <summary>Registration of the monitoring pipeline: agent registry, ingest, roll-ups, retention and queries.</summary>
internal static class MonitoringServices
{
    public static IServiceCollection AddSentinelMonitoring(this IServiceCollection services)
    {
        services.AddSettings<MonitoringOptions>()
            .Validate(o => o.AgentKeySecret is { Length: >= 32 },
                "Monitoring:AgentKeySecret (app setting Monitoring__AgentKeySecret; a Key Vault reference in Azure) must be set to at least 32 characters: agent keys are derived from it.")
            .Validate(o => o.ClockSkew >= TimeSpan.FromSeconds(30) && o.ClockSkew <= TimeSpan.FromHours(1), "Monitoring:ClockSkew is between 30 seconds and 1 hour.")
            .Validate(o => o.RawRetention >= TimeSpan.FromDays(1) && o.RollupRetention >= o.RawRetention, "Monitoring:RawRetention is at least 1 day and RollupRetention at least as long.")
            .Validate(o => o.KeyRotationGrace >= TimeSpan.Zero && o.MaxAgentsPerTenant >= 1 && o.OfflineAfterIntervals >= 1 && o.MaxQuerySeries is >= 1 and <= 10_000,
                "Monitoring: KeyRotationGrace ≥ 0, MaxAgentsPerTenant ≥ 1, OfflineAfterIntervals ≥ 1, MaxQuerySeries 1–10,000.")
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<MonitoringOptions>>().Value);
        services.AddSingleton<AgentRegistry>();
        services.AddSingleton<MetricStorage>();
        services.AddSingleton<SeriesCatalogue>();
        services.AddSingleton<MetricIngest>();
        services.AddSingleton<MetricRollups>();
        services.AddSingleton<MetricRetention>();
        services.AddSingleton<MetricQueries>();
        return services;
    }
}
