using Sentinel.Core.Configuration;

namespace Sentinel.Core.Alerts;

/// <summary>Configuration section <c>Alerts</c>.</summary>
[SettingsSection("Alerts")]
internal sealed class AlertsOptions
{
    /// <summary>State changes are kept this long for <c>/api/alerts/history</c>, then deleted by the hourly
    /// <c>retention</c> timer (at least 1 day). Default 400 days, as the metric roll-ups.</summary>
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromDays(400);

    /// <summary>Alertmanager's <c>group_wait</c>: how long a new group waits for more alerts before its first
    /// notification. A receiver may set its own. Default 30 s.</summary>
    public TimeSpan GroupWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Alertmanager's <c>group_interval</c>: how long a group waits before notifying about alerts that joined
    /// or resolved after its last notification. Default 5 minutes.</summary>
    public TimeSpan GroupInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Alertmanager's <c>repeat_interval</c>: how long before a notification that changed nothing is sent again
    /// while its alerts still fire. Default 4 hours.</summary>
    public TimeSpan RepeatInterval { get; set; } = TimeSpan.FromHours(4);
}
