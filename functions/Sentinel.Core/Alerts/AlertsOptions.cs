using Sentinel.Core.Configuration;

namespace Sentinel.Core.Alerts;

/// <summary>Configuration section <c>Alerts</c>.</summary>
[SettingsSection("Alerts")]
internal sealed class AlertsOptions
{
    /// <summary>State changes are kept this long for <c>/api/alerts/history</c>, then deleted by the hourly
    /// <c>retention</c> timer (at least 1 day). Default 400 days, as the metric roll-ups.</summary>
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromDays(400);
}
