using Sentinel.Core.Configuration;

namespace Sentinel.Core.Monitoring;

/// <summary>Configuration section <c>Monitoring</c>.</summary>
[SettingsSection(Section)]
internal sealed class MonitoringOptions
{
    public const string Section = "Monitoring";

    /// <summary>
    /// The master secret agent keys are derived from (at least 32 characters; a Key Vault reference in Azure,
    /// generated under .data/secrets by <c>make run</c>). Changing it invalidates every agent's key.
    /// </summary>
    [SecretSetting]
    public string? AgentKeySecret { get; set; }

    /// <summary>How far a batch's signing timestamp may be from the time Event Hubs enqueued it. Default 5 minutes.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>After a key rotation, the previous key version stays valid this long (agents pick up the new key). Default 24 hours.</summary>
    public TimeSpan KeyRotationGrace { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Raw samples (and the batch ledger) are kept this long. Default 30 days.</summary>
    public TimeSpan RawRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>1-minute and 1-hour roll-ups are kept this long. Default 400 days.</summary>
    public TimeSpan RollupRetention { get; set; } = TimeSpan.FromDays(400);

    /// <summary>The send-only Event Hubs connection string written into install commands (a Key Vault reference in Azure).
    /// In standalone mode it defaults to this host's own Event Hubs endpoint and key.</summary>
    [SecretSetting]
    public string? AgentConnectionString { get; set; }

    /// <summary>Agents per tenant. Default 1,000.</summary>
    public int MaxAgentsPerTenant { get; set; } = 1000;

    /// <summary>An agent is offline after this many intervals without a batch (at least 30 s). Default 3.</summary>
    public int OfflineAfterIntervals { get; set; } = 3;

    /// <summary>Series a range query may return. Default 500.</summary>
    public int MaxQuerySeries { get; set; } = 500;

    public byte[] MasterSecret() => System.Text.Encoding.UTF8.GetBytes(AgentKeySecret ?? "");
}
