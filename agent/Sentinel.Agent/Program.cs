using System.Text.Json;
using Sentinel.Agent;
using Sentinel.Contracts.Metrics;

// sentinel-agent run | collect | install | version  (see agent/README.md)
var verb = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "run";
var rest = args.Length > 0 && verb == args[0] ? args[1..] : args;
static void Log(string message) => Console.Error.WriteLine(message);

try
{
    switch (verb)
    {
        case "version":
            Console.WriteLine(AgentRunner.Version);
            return 0;
        case "install":
            return Installer.Run(rest, Console.Out);
        case "run":
        case "collect":
        {
            var configPath = rest.Length >= 2 && rest[0] == "--config" ? rest[1] : null;
            var config = AgentConfig.Load(configPath, Environment.GetEnvironmentVariable);
            if (verb == "collect")
            {
                // Two passes a second apart (rates need a previous pass), printed, not sent.
                config.SpoolDirectory = Path.Combine(Path.GetTempPath(), "sentinel-agent-collect-" + Environment.ProcessId);
                config.AgentId = MetricRules.IsAgentId(config.AgentId) ? config.AgentId : "local";
                using var once = new AgentRunner(config, TimeProvider.System, Log, send: false);
                await once.CollectOnceAsync(CancellationToken.None);
                await Task.Delay(TimeSpan.FromSeconds(1));
                var batch = await once.CollectOnceAsync(CancellationToken.None);
                Directory.Delete(config.SpoolDirectory, recursive: true);
                Console.WriteLine(JsonSerializer.Serialize(batch, MetricsJsonContext.Default.MetricBatch));
                return 0;
            }

            if (config.Validate() is { } problem)
            {
                Log("sentinel-agent: " + problem);
                return 2;
            }

            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                stop.Cancel();
            };
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                stop.Cancel();
            });
            using var runner = new AgentRunner(config, TimeProvider.System, Log);
            await runner.RunAsync(stop.Token);
            Log($"sentinel-agent stopped ({runner.Spool.Count} batches kept in the spool)");
            return 0;
        }

        default:
            Log($"sentinel-agent: unknown command '{verb}'. Commands: run [--config FILE], collect, install --agent ID --key-version N --key KEY --connection 'Endpoint=…' [--hub NAME] [--probe name=target]…, version");
            return 2;
    }
}
catch (Exception ex) when (ex is ArgumentException or FormatException or FileNotFoundException or JsonException or IOException or UnauthorizedAccessException)
{
    Log("sentinel-agent: " + ex.Message);
    return 2;
}
