using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using Sentinel.Functions.Functions;

namespace Sentinel.Functions.Tests.Functions;

public sealed class FunctionMetadataTests
{
    [Fact]
    public void Registry_HasEveryFunction()
    {
        Assert.Equal(
            ["alerts-absent", "alerts-notify", "heuristics", "http", "ingest-metrics", "relay-redrive", "retention", "rollup"],
            FunctionRegistry.All.Select(f => f.Name).Order());
        Assert.Equal(FunctionRegistry.All.Count, FunctionRegistry.All.Select(f => f.Name.ToUpperInvariant()).Distinct().Count());
    }

    [Fact]
    public void WriteAll_MatchesTheRegistry()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-metadata-").FullName;
        try
        {
            FunctionMetadataWriter.WriteAll(FunctionRegistry.All, dir);

            Assert.Equal(FunctionRegistry.All.Select(f => f.Name).Order(), Directory.GetDirectories(dir).Select(Path.GetFileName).Order()!);
            foreach (var f in FunctionRegistry.All)
                AssertMatches(f, Path.Combine(dir, f.Name, "function.json"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void IngestMetrics_IsManyStringsWithInfiniteRetry()
    {
        using var doc = JsonDocument.Parse(FunctionMetadataWriter.ToJson(FunctionRegistry.Find(FunctionRegistry.IngestMetrics)!));
        var binding = Assert.Single(doc.RootElement.GetProperty("bindings").EnumerateArray());

        Assert.Equal("eventHubTrigger", binding.GetProperty("type").GetString());
        Assert.Equal("many", binding.GetProperty("cardinality").GetString());
        Assert.Equal("string", binding.GetProperty("dataType").GetString());
        Assert.Equal("EventHubConnection", binding.GetProperty("connection").GetString());
        Assert.Equal(-1, doc.RootElement.GetProperty("retry").GetProperty("maxRetryCount").GetInt32());
    }

    [Fact]
    public void Http_HasExactlyTriggerAndOutput_SoTheHostForwardsIt()
    {
        using var doc = JsonDocument.Parse(FunctionMetadataWriter.ToJson(FunctionRegistry.Find(FunctionRegistry.Http)!));
        var bindings = doc.RootElement.GetProperty("bindings").EnumerateArray().ToArray();

        Assert.Equal(2, bindings.Length);
        Assert.Equal(("httpTrigger", "in"), (bindings[0].GetProperty("type").GetString(), bindings[0].GetProperty("direction").GetString()));
        Assert.Equal(("http", "out"), (bindings[1].GetProperty("type").GetString(), bindings[1].GetProperty("direction").GetString()));
        Assert.Equal("{*route}", bindings[0].GetProperty("route").GetString());
    }

    /// <summary>
    /// The output of <c>make package</c> (which <c>make test</c> runs first): host.json, one folder per function whose
    /// function.json is what the registry says, an executable self-contained handler that starts and answers the host's
    /// readiness probe, and a zip that keeps the handler's execute bit.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Package_HasHostJsonFunctionsAndExecutableHandler()
    {
        var dir = Environment.GetEnvironmentVariable("SENTINEL_PACKAGE_DIR");
        Assert.False(string.IsNullOrEmpty(dir), "SENTINEL_PACKAGE_DIR is not set: run 'make test', which runs 'make package' first.");
        Assert.True(Directory.Exists(dir), $"{dir} does not exist: run 'make package'.");

        using var hostJson = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "host.json")));
        var handlerName = hostJson.RootElement.GetProperty("customHandler").GetProperty("description").GetProperty("defaultExecutablePath").GetString()!;
        Assert.True(hostJson.RootElement.GetProperty("customHandler").GetProperty("enableProxyingHttpRequest").GetBoolean());
        Assert.True(hostJson.RootElement.GetProperty("customHandler").GetProperty("enableForwardingHttpRequest").GetBoolean());
        foreach (var f in FunctionRegistry.All)
            AssertMatches(f, Path.Combine(dir, f.Name, "function.json"));

        var handler = Path.Combine(dir, handlerName);
        Assert.True(File.Exists(handler), $"{handler} is missing");
        Assert.True(File.GetUnixFileMode(handler).HasFlag(UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute));
        Assert.False(File.Exists(Path.Combine(dir, handlerName + ".dll")), "the handler must be single-file and self-contained");

        using (var zip = ZipFile.OpenRead(Path.Combine(dir, "..", "functionapp.zip")))
        {
            var entry = zip.GetEntry(handlerName);
            Assert.NotNull(entry);
            var mode = (UnixFileMode)((entry.ExternalAttributes >> 16) & 0x1FF);
            Assert.True(mode.HasFlag(UnixFileMode.UserExecute), $"zip entry mode is {mode}");
            Assert.NotNull(zip.GetEntry("host.json"));
            Assert.All(FunctionRegistry.All, f => Assert.NotNull(zip.GetEntry($"{f.Name}/function.json")));
        }

        // Start it as the host would (port in FUNCTIONS_CUSTOMHANDLER_PORT) and wait for GET / to answer.
        var port = int.Parse(Sentinel.TestSupport.TestServers.ClosedPort().Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var start = new ProcessStartInfo(handler, "serve") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["ConnectionStrings__Postgres"] = Sentinel.TestSupport.TestServers.Postgres;
        start.Environment["ConnectionStrings__Redis"] = Sentinel.TestSupport.TestServers.Redis;
        start.Environment["ConnectionStrings__Tables"] = Sentinel.TestSupport.TestServers.Tables;
        var keys = Directory.CreateTempSubdirectory("sentinel-package-keys-");
        start.Environment["Identity__SigningKeyDirectory"] = keys.FullName;
        start.Environment["Monitoring__AgentKeySecret"] = SentinelTestHost.AgentKeySecret;
        using var process = Process.Start(start)!;
        try
        {
            using var client = new HttpClient();
            var deadline = Stopwatch.StartNew();
            HttpResponseMessage? ready = null;
            while (ready is null && deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                try
                {
                    ready = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/"));
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(20);
                }
            }

            Assert.NotNull(ready);
            Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            keys.Delete(recursive: true);
        }
    }

    private static void AssertMatches(FunctionDefinition function, string path)
    {
        Assert.True(File.Exists(path), $"{path} is missing");
        Assert.Equal(FunctionMetadataWriter.ToJson(function), File.ReadAllBytes(path));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var trigger = doc.RootElement.GetProperty("bindings")[0];
        Assert.Equal(function.Trigger.BindingName, trigger.GetProperty("name").GetString());
        var expectedType = function.Trigger switch
        {
            HttpTrigger => "httpTrigger",
            EventHubTrigger => "eventHubTrigger",
            TimerTrigger => "timerTrigger",
            _ => "?",
        };
        Assert.Equal(expectedType, trigger.GetProperty("type").GetString());
        if (function.Trigger is TimerTrigger timer)
            Assert.Equal(timer.Schedule, trigger.GetProperty("schedule").GetString());
        Assert.Equal(function.Retry is not null, doc.RootElement.TryGetProperty("retry", out _));
    }
}
