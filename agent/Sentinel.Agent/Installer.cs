using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Sentinel.Agent;

/// <summary>
/// <c>sentinel-agent install</c>: copies the binary to <c>/usr/local/bin</c>, writes the configuration (mode 0600, it
/// holds the key) and a hardened systemd unit, then enables and starts it. Every path can be moved, and
/// <c>--no-start</c> skips systemctl, so it is testable without root or systemd.
/// </summary>
internal static class Installer
{
    public const string UnitName = "sentinel-agent.service";

    public static int Run(string[] args, TextWriter output)
    {
        var options = ParseOptions(args);
        string Get(string name, string fallback) => options.TryGetValue(name, out var v) ? v[^1] : fallback;

        var configPath = Get("config", AgentConfig.DefaultPath);
        var config = File.Exists(configPath)
            ? JsonSerializer.Deserialize(File.ReadAllBytes(configPath), AgentJsonContext.Default.AgentConfig) ?? new AgentConfig()
            : new AgentConfig();
        config.AgentId = Get("agent", config.AgentId);
        config.Key = Get("key", config.Key);
        config.KeyVersion = int.Parse(Get("key-version", config.KeyVersion.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        config.Connection = Get("connection", config.Connection);
        config.Hub = Get("hub", config.Hub);
        config.IntervalSeconds = int.Parse(Get("interval", config.IntervalSeconds.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        config.SpoolDirectory = Get("spool-dir", config.SpoolDirectory);
        if (options.TryGetValue("probe", out var probes))
        {
            foreach (var probe in probes)
            {
                var eq = probe.IndexOf('=');
                if (eq <= 0)
                    throw new ArgumentException($"--probe takes name=target (http://127.0.0.1:5678/healthz or 127.0.0.1:5432), not '{probe}'.");
                config.Probes.RemoveAll(p => p.Name == probe[..eq]);
                config.Probes.Add(new ProbeConfig { Name = probe[..eq], Target = probe[(eq + 1)..] });
            }
        }

        if (config.Validate() is { } problem)
        {
            output.WriteLine("install: " + problem);
            return 2;
        }

        var binDir = Get("bin-dir", "/usr/local/bin");
        var unitDir = Get("unit-dir", "/etc/systemd/system");
        var binary = Path.Combine(binDir, "sentinel-agent");
        var self = Environment.ProcessPath!;
        Directory.CreateDirectory(binDir);
        if (!string.Equals(Path.GetFullPath(self), Path.GetFullPath(binary), StringComparison.Ordinal) && !self.EndsWith("dotnet", StringComparison.Ordinal))
        {
            File.Copy(self, binary, overwrite: true);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(binary, (UnixFileMode)0b111_101_101);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(configPath))!);
        File.WriteAllBytes(configPath, JsonSerializer.SerializeToUtf8Bytes(config, AgentJsonContext.Default.AgentConfig));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(configPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.CreateDirectory(unitDir);
        File.WriteAllText(Path.Combine(unitDir, UnitName), Unit(binary, configPath, config.SpoolDirectory));
        output.WriteLine($"install: {binary}, {configPath} (0600), {Path.Combine(unitDir, UnitName)}");

        if (options.ContainsKey("no-start"))
            return 0;
        foreach (var command in new[] { "daemon-reload", "enable --now " + UnitName, "restart " + UnitName })
        {
            using var process = Process.Start(new ProcessStartInfo("systemctl", command) { UseShellExecute = false })!;
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                output.WriteLine($"install: systemctl {command} failed ({process.ExitCode})");
                return 1;
            }
        }

        output.WriteLine("install: sentinel-agent is running; journalctl -u sentinel-agent shows its log");
        return 0;
    }

    /// <summary>The unit: restarts on failure, runs unprivileged in a read-only system with only its spool writable.</summary>
    public static string Unit(string binary, string configPath, string spool) => $"""
        [Unit]
        Description=Sentinel metrics agent
        Documentation=https://github.com/sentinel-serverless/sentinel-serverless
        After=network-online.target
        Wants=network-online.target

        [Service]
        Type=simple
        ExecStart={binary} run --config {configPath}
        Restart=always
        RestartSec=5
        DynamicUser=yes
        StateDirectory=sentinel-agent
        ReadWritePaths={spool}
        ProtectSystem=strict
        ProtectHome=read-only
        PrivateTmp=yes
        NoNewPrivileges=yes
        LoadCredential=agent.json:{configPath}
        Environment=SENTINEL_AGENT_CONFIG=%d/agent.json
        MemoryMax=128M
        CPUQuota=20%
        Nice=10

        [Install]
        WantedBy=multi-user.target

        """;

    private static Dictionary<string, List<string>> ParseOptions(string[] args)
    {
        var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            var name = args[i][2..];
            var value = name == "no-start" ? "" : i + 1 < args.Length ? args[++i] : throw new ArgumentException($"--{name} needs a value.");
            if (!options.TryGetValue(name, out var list))
                options[name] = list = [];
            list.Add(value);
        }

        return options;
    }
}
