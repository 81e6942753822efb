using System.Text.Json;
using System.Text.Json.Serialization;
using Sentinel.Functions.Health;

namespace Sentinel.Functions.Http;

/// <summary>Source-generated JSON for the API's own response types.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(VersionInfo))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
