using Sentinel.Core.Configuration;

namespace Sentinel.Functions.Standalone;

/// <summary>Settings of <c>serve --standalone</c> (section <c>Standalone</c>; app settings <c>Standalone__*</c>).</summary>
[SettingsSection(Section)]
internal sealed class StandaloneOptions
{
    public const string Section = "Standalone";

    /// <summary>The SAS policy name agents sign with. Default <c>agent-send</c>.</summary>
    public string EventHubKeyName { get; set; } = "agent-send";

    /// <summary>The SAS key text agents sign with (required in standalone mode, at least 16 characters; `make run` generates one).</summary>
    [SecretSetting]
    public string? EventHubKey { get; set; }

    /// <summary>Partitions of the emulated hub. Default 4.</summary>
    public int Partitions { get; set; } = 4;

    /// <summary>Events per invocation, as the host's <c>maxEventBatchSize</c>. Default 100.</summary>
    public int MaxEventsPerInvocation { get; set; } = 100;

    /// <summary>The folder of the dashboard's static files. Default: <c>dashboard/dist</c>, else <c>dashboard</c>, under the content root.</summary>
    public string? DashboardPath { get; set; }
}
