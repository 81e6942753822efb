using Sentinel.Core.Configuration;

namespace Sentinel.Functions.Functions;

/// <summary>
/// The one place a function is declared. The router dispatches <c>POST /{name}</c> from it, the standalone host
/// schedules its timers and feeds its Event Hubs function from it, and <c>metadata</c> writes each function.json from it.
/// </summary>
internal static class FunctionRegistry
{
    public const string Http = "http";
    public const string IngestMetrics = "ingest-metrics";
    public const string Retention = "retention";
    public const string Rollup = "rollup";
    public const string Heuristics = "heuristics";
    public const string RelayRedrive = "relay-redrive";
    public const string AlertsAbsent = "alerts-absent";
    public const string AlertsNotify = "alerts-notify";

    /// <summary>The app setting holding the metrics hub's name; the binding reads it as <c>%SENTINEL_METRICS_HUB%</c>.</summary>
    [AppSetting]
    public const string MetricsHubSetting = "SENTINEL_METRICS_HUB";

    /// <summary>The app setting holding the ingest function's consumer group.</summary>
    [AppSetting]
    public const string MetricsConsumerGroupSetting = "SENTINEL_METRICS_CONSUMER_GROUP";

    /// <summary>The binding connection prefix: a connection string, or <c>EventHubConnection__fullyQualifiedNamespace</c> with an identity.</summary>
    public const string EventHubConnection = "EventHubConnection";

    public static IReadOnlyList<FunctionDefinition> All { get; } =
    [
        new(Http,
            new HttpTrigger("req", "{*route}", "anonymous", Methods: null),
            Retry: null, Handler: typeof(HttpEnvelopeFunction),
            "The forwarded HTTP API: every /api route, served by the handler's own endpoints."),
        new(IngestMetrics,
            new EventHubTrigger("events", $"%{MetricsHubSetting}%", EventHubConnection, $"%{MetricsConsumerGroupSetting}%", "many", "string"),
            // -1: a database outage blocks the partition (the host re-runs the same batch) instead of dropping it.
            new ExponentialBackoffRetry(-1, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5)),
            typeof(IngestMetricsFunction),
            "Agent metric batches from Event Hubs into PostgreSQL."),
        new(Retention,
            new TimerTrigger("timer", "0 17 * * * *", RunOnStartup: false, UseMonitor: true),
            Retry: null, typeof(RetentionFunction),
            "Hourly: drops expired partitions/chunks and creates the coming days' partitions."),
        new(Rollup,
            new TimerTrigger("timer", "5 * * * * *", RunOnStartup: false, UseMonitor: true),
            Retry: null, typeof(RollupFunction),
            "Every minute, 5 s after it closes: 1-minute and 1-hour roll-ups."),
        new(Heuristics,
            new TimerTrigger("timer", "30 * * * * *", RunOnStartup: false, UseMonitor: true),
            Retry: null, typeof(HeuristicsFunction),
            "Every minute: brute force, floods, error spikes, anomalies; writes insights."),
        new(RelayRedrive,
            // Under a minute, so no schedule monitor (the host recommends it only for intervals of 1 min and more).
            new TimerTrigger("timer", "*/10 * * * * *", RunOnStartup: false, UseMonitor: false),
            Retry: null, typeof(RelayRedriveFunction),
            "Every 10 s: sends relay deliveries that are due (retries, replays)."),
        new(AlertsAbsent,
            new TimerTrigger("timer", "15 * * * * *", RunOnStartup: false, UseMonitor: true),
            Retry: null, typeof(AlertsEvaluateFunction),
            "Every minute: every alert rule over the stored samples (missing data counts as false)."),
        new(AlertsNotify,
            new TimerTrigger("timer", "*/10 * * * * *", RunOnStartup: false, UseMonitor: false),
            Retry: null, typeof(AlertsNotifyFunction),
            "Every 10 s: groups firing alerts per receiver and queues the notifications that are due."),
    ];

    /// <summary>Finds a function by name (case-insensitive, as the host's routes are).</summary>
    public static FunctionDefinition? Find(string name)
    {
        foreach (var f in All)
        {
            if (string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase))
                return f;
        }

        return null;
    }
}
