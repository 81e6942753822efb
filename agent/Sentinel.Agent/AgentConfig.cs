using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Sentinel.Contracts.EventHubs;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent;

/// <summary>A local service to probe: HTTP (<c>http://…</c> URL, up when it answers below 500) or TCP (<c>host:port</c>, up when it accepts).</summary>
internal sealed class ProbeConfig
{
    public string Name { get; set; } = "";
    public string Target { get; set; } = "";
    public int TimeoutMs { get; set; } = 2000;
}

/// <summary>
/// The agent's settings: a JSON file (default <c>/etc/sentinel-agent/agent.json</c>, written by <c>install</c>, mode 0600)
/// overridden by environment variables <c>SENTINEL_AGENT_{SETTING}</c> (e.g. <c>SENTINEL_AGENT_INTERVAL_SECONDS</c>).
/// </summary>
internal sealed class AgentConfig
{
    public const string DefaultPath = "/etc/sentinel-agent/agent.json";

    public string AgentId { get; set; } = "";
    public int KeyVersion { get; set; } = 1;
    public string Key { get; set; } = "";

    /// <summary>The send-only Event Hubs connection string (<c>Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…</c>).</summary>
    public string Connection { get; set; } = "";

    /// <summary>Instead of a SAS key: a file holding a Microsoft Entra access token for https://eventhubs.azure.net/, re-read before each send.</summary>
    public string? BearerTokenFile { get; set; }

    /// <summary>Instead of a key: a Microsoft Entra token from the Azure Instance Metadata Service (the VM's managed identity).</summary>
    public bool ManagedIdentity { get; set; }

    /// <summary>The client id of a user-assigned managed identity; the system-assigned one when empty.</summary>
    public string? ManagedIdentityClientId { get; set; }

    /// <summary>The IMDS token endpoint. Default <c>http://169.254.169.254/metadata/identity/oauth2/token</c>.</summary>
    public string ImdsEndpoint { get; set; } = "http://169.254.169.254/metadata/identity/oauth2/token";

    /// <summary>The Event Hubs namespace endpoint when authenticating with an Entra token (no connection string).</summary>
    public string? Endpoint { get; set; }

    /// <summary>True when the agent authenticates with an Entra token (a file or the managed identity) instead of a SAS key.</summary>
    public bool UsesEntra => BearerTokenFile is not null || ManagedIdentity;

    public string Hub { get; set; } = "agent-metrics";
    public int IntervalSeconds { get; set; } = 10;
    public string SpoolDirectory { get; set; } = "/var/lib/sentinel-agent/spool";
    public long SpoolMaxBytes { get; set; } = 64L * 1024 * 1024;
    public string ProcRoot { get; set; } = "/proc";
    public string SysRoot { get; set; } = "/sys";
    public string? HostName { get; set; }
    public List<ProbeConfig> Probes { get; set; } = [];

    /// <summary>Mount types never reported (pseudo and virtual file systems).</summary>
    public List<string> IgnoreFileSystems { get; set; } =
        ["proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "overlay", "squashfs", "mqueue", "debugfs", "tracefs",
         "securityfs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs", "autofs", "nsfs", "ramfs", "binfmt_misc", "rpc_pipefs", "efivarfs"];

    public static AgentConfig Load(string? path, Func<string, string?> environment)
    {
        var config = new AgentConfig();
        var file = path ?? environment("SENTINEL_AGENT_CONFIG") ?? DefaultPath;
        if (File.Exists(file))
            config = JsonSerializer.Deserialize(File.ReadAllBytes(file), AgentJsonContext.Default.AgentConfig) ?? config;
        else if (path is not null)
            throw new FileNotFoundException($"No configuration file at {path}.");

        string? Env(string name) => environment("SENTINEL_AGENT_" + name) is { Length: > 0 } v ? v : null;
        config.AgentId = Env("AGENT_ID") ?? config.AgentId;
        config.Key = Env("KEY") ?? config.Key;
        config.Connection = Env("CONNECTION") ?? config.Connection;
        config.BearerTokenFile = Env("BEARER_TOKEN_FILE") ?? config.BearerTokenFile;
        config.ManagedIdentityClientId = Env("MANAGED_IDENTITY_CLIENT_ID") ?? config.ManagedIdentityClientId;
        if (Env("MANAGED_IDENTITY") is { } mi)
            config.ManagedIdentity = bool.Parse(mi);
        config.Endpoint = Env("ENDPOINT") ?? config.Endpoint;
        config.Hub = Env("HUB") ?? config.Hub;
        config.SpoolDirectory = Env("SPOOL_DIRECTORY") ?? config.SpoolDirectory;
        config.ProcRoot = Env("PROC_ROOT") ?? config.ProcRoot;
        config.SysRoot = Env("SYS_ROOT") ?? config.SysRoot;
        config.HostName = Env("HOST_NAME") ?? config.HostName;
        if (Env("KEY_VERSION") is { } kv)
            config.KeyVersion = int.Parse(kv, CultureInfo.InvariantCulture);
        if (Env("INTERVAL_SECONDS") is { } iv)
            config.IntervalSeconds = int.Parse(iv, CultureInfo.InvariantCulture);
        if (Env("SPOOL_MAX_BYTES") is { } sm)
            config.SpoolMaxBytes = long.Parse(sm, CultureInfo.InvariantCulture);
        return config;
    }

    /// <summary>Null when the settings can run, else what is wrong.</summary>
    public string? Validate()
    {
        if (!MetricRules.IsAgentId(AgentId))
            return "agentId is missing or malformed (the id from 'Register an agent').";
        if (!AgentSignature.TryDecodeKey(Key, out _))
            return "key is missing or not an agent key (43 base64url characters).";
        if (KeyVersion < 1)
            return "keyVersion must be 1 or more.";
        if (!UsesEntra && !EventHubsConnectionString.TryParse(Connection, out _))
            return "connection is not an Event Hubs connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…).";
        if (UsesEntra && !Uri.TryCreate(Endpoint, UriKind.Absolute, out _))
            return "endpoint (https://{namespace}.servicebus.windows.net/) is required with bearerTokenFile or managedIdentity.";
        if (ManagedIdentity && !Uri.TryCreate(ImdsEndpoint, UriKind.Absolute, out _))
            return "imdsEndpoint is not a URL.";
        if (string.IsNullOrWhiteSpace(Hub))
            return "hub is required.";
        if (IntervalSeconds is < 1 or > 3600)
            return "intervalSeconds must be 1 to 3600.";
        if (SpoolMaxBytes < 1024 * 1024)
            return "spoolMaxBytes must be at least 1 MiB.";
        foreach (var p in Probes)
        {
            if (string.IsNullOrWhiteSpace(p.Name) || string.IsNullOrWhiteSpace(p.Target) || p.TimeoutMs is < 50 or > 60_000)
                return "each probe needs a name, a target (http(s)://… or host:port) and timeoutMs 50–60000.";
        }

        return null;
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(AgentConfig))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
