using Sentinel.Core.Configuration;

namespace Sentinel.Core.Relay;

/// <summary>Configuration section <c>Relay</c>.</summary>
[SettingsSection(Section)]
internal sealed class RelayOptions
{
    public const string Section = "Relay";

    /// <summary>
    /// Delays before each retry after the first (immediate) attempt, as durations separated by commas. Default Svix's
    /// schedule: 5s, 5m, 30m, 2h, 5h, 10h, 10h, about 27.6 h in all (https://docs.svix.com/retries; anchors §2.2). Each
    /// delay gets ±20 % jitter. After the last one fails the delivery is dead-lettered.
    /// </summary>
    public string RetrySchedule { get; set; } = "5s,5m,30m,2h,5h,10h,10h";

    /// <summary><see cref="RetrySchedule"/> parsed (a handful of items, read once per failed attempt); empty when it does
    /// not parse, which start-up validation refuses.</summary>
    public TimeSpan[] Delays
    {
        get
        {
            var parts = RetrySchedule.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var delays = new TimeSpan[parts.Length];
            for (var i = 0; i < parts.Length; i++)
            {
                if (!RequestLog.GatewayStats.TryParseDuration(parts[i], out delays[i]))
                    return [];
            }

            return delays;
        }
    }

    /// <summary>A <c>Retry-After</c> longer than this is capped (a target must not park a delivery for days). Default 10 hours.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(10);

    /// <summary>Largest webhook body accepted (Evolution with base64 media can be large). Default 1 MiB, the API's limit.</summary>
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>How far a Chatwoot signature's timestamp may be from now. Default 5 minutes (Standard Webhooks' tolerance).</summary>
    public TimeSpan SignatureTolerance { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long Redis remembers a message id or a webhook delivery id (PostgreSQL remembers for good). Default 24 hours.</summary>
    public TimeSpan DedupeTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Consecutive failures that open a target's circuit breaker. Default 5.</summary>
    public int BreakerThreshold { get; set; } = 5;

    /// <summary>How long an open breaker keeps a target out of the dispatcher before one trial. Default 30 seconds.</summary>
    public TimeSpan BreakerOpenFor { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Deliveries sent at once by one process. Default 16.</summary>
    public int Concurrency { get; set; } = 16;

    /// <summary>Routes a tenant may have. Default 100.</summary>
    public int MaxRoutesPerTenant { get; set; } = 100;

    /// <summary>Relay messages, deliveries and attempts are kept this long. Default 90 days.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(90);
}
