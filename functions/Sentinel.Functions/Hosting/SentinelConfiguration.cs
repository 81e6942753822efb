using System.Text.Json;
using Microsoft.Extensions.Configuration.Memory;

namespace Sentinel.Functions.Hosting;

/// <summary>
/// Where settings come from, lowest precedence first: built-in defaults; in standalone mode the <c>Values</c> of
/// <c>local.settings.json</c> in the working directory (as <c>func start</c> reads it); then environment variables
/// (Azure app settings; <c>__</c> for <c>:</c>) and the command line.
/// </summary>
internal static class SentinelConfiguration
{
    /// <summary>Defaults for settings that have a safe one. Connection strings have none: they are required.</summary>
    public static IReadOnlyDictionary<string, string?> Defaults { get; } = new Dictionary<string, string?>(Gateway.GatewayDefaults.Settings())
    {
        [Functions.FunctionRegistry.MetricsHubSetting] = "agent-metrics",
        [Functions.FunctionRegistry.MetricsConsumerGroupSetting] = "ingest",
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:LogLevel:Npgsql"] = "Warning",
    };

    public static void Apply(IConfigurationManager configuration, HostMode mode, string contentRoot)
    {
        var position = 0;
        configuration.Sources.Insert(position++, new MemoryConfigurationSource { InitialData = Defaults });
        if (mode == HostMode.Standalone)
        {
            var path = Path.Combine(contentRoot, "local.settings.json");
            if (File.Exists(path))
                configuration.Sources.Insert(position, new MemoryConfigurationSource { InitialData = ReadLocalSettings(path) });
        }
    }

    /// <summary>The <c>Values</c> object of a local.settings.json, with <c>__</c> mapped to <c>:</c> like environment variables.</summary>
    public static Dictionary<string, string?> ReadLocalSettings(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (doc.RootElement.TryGetProperty("Values", out var v) && v.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in v.EnumerateObject())
                values[p.Name.Replace("__", ":", StringComparison.Ordinal)] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText();
        }

        if (doc.RootElement.TryGetProperty("ConnectionStrings", out var cs) && cs.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in cs.EnumerateObject())
                values["ConnectionStrings:" + p.Name] = p.Value.GetString();
        }

        return values;
    }
}
