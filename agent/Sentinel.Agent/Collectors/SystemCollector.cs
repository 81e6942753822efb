using System.Globalization;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent.Collectors;

/// <summary>File-system usage of one mount: total, free to users, and used bytes.</summary>
internal readonly record struct FsUsage(long Size, long Available, long Used);

/// <summary>
/// Reads the host from <c>/proc</c> and <c>/sys</c> directly (roots configurable, so tests run on fixture trees): CPU total
/// and per core, load, memory and swap, disk I/O per whole device, file-system usage per mount, network per interface,
/// TCP states, uptime, process count, and per-container CPU and memory from cgroup v2. Counters become per-second rates
/// from the previous pass; the first pass reports gauges only.
/// </summary>
internal sealed class SystemCollector(string procRoot, string sysRoot, IReadOnlyCollection<string> ignoredFileSystems, Func<string, FsUsage?>? statfs = null)
{
    private readonly Func<string, FsUsage?> _statfs = statfs ?? DefaultStatfs;
    private Dictionary<string, long[]> _cpu = [];
    private Dictionary<string, long[]> _disk = [];
    private Dictionary<string, long[]> _net = [];
    private Dictionary<string, long> _containers = [];
    private long _previousTicks;

    public List<MetricSample> Collect(long monotonicTicks, long ticksPerSecond)
    {
        var samples = new List<MetricSample>(256);
        var elapsed = _previousTicks == 0 ? 0 : (double)(monotonicTicks - _previousTicks) / ticksPerSecond;
        _previousTicks = monotonicTicks;
        Try(() => Cpu(samples));
        Try(() => Load(samples));
        Try(() => Memory(samples));
        Try(() => Disks(samples, elapsed));
        Try(() => FileSystems(samples));
        Try(() => Network(samples, elapsed));
        Try(() => Tcp(samples));
        Try(() => Uptime(samples));
        Try(() => Processes(samples));
        Try(() => Containers(samples, elapsed));
        return samples;
    }

    /// <summary>Host facts shipped with each batch.</summary>
    public Dictionary<string, string> Facts()
    {
        var facts = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["arch"] = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
            ["cpus"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
        };
        if (ReadOrNull(Path.Combine(procRoot, "sys/kernel/osrelease")) is { } kernel)
            facts["kernel"] = kernel.Trim();
        foreach (var line in ReadLinesOrEmpty("/etc/os-release"))
        {
            if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
                facts["os"] = line["PRETTY_NAME=".Length..].Trim('"');
        }

        foreach (var line in ReadLinesOrEmpty(Path.Combine(procRoot, "meminfo")))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                facts["memory_bytes"] = (Kb(line) * 1024).ToString(CultureInfo.InvariantCulture);
        }

        return facts;
    }

    private static void Try(Action collect)
    {
        try
        {
            collect();
        }
        catch (IOException)
        {
            // A file that vanished or cannot be read this pass (a container stopping, a device unplugged): skip it.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private void Cpu(List<MetricSample> samples)
    {
        var now = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(procRoot, "stat")))
        {
            if (!line.StartsWith("cpu", StringComparison.Ordinal))
                continue;
            var parts = Split(line);
            var core = parts[0] == "cpu" ? "total" : parts[0][3..];
            // user nice system idle iowait irq softirq steal
            var values = new long[8];
            for (var i = 0; i < 8 && i + 1 < parts.Length; i++)
                values[i] = long.Parse(parts[i + 1], CultureInfo.InvariantCulture);
            now[core] = values;
            if (!_cpu.TryGetValue(core, out var before))
                continue;
            var total = 0L;
            for (var i = 0; i < 8; i++)
                total += values[i] - before[i];
            if (total <= 0)
                continue;
            var idle = values[3] - before[3];
            var iowait = values[4] - before[4];
            var labels = Labels("core", core);
            samples.Add(new MetricSample("cpu.usage", labels, Round(100.0 * (total - idle - iowait) / total)));
            if (core == "total")
            {
                samples.Add(new MetricSample("cpu.iowait", labels, Round(100.0 * iowait / total)));
                samples.Add(new MetricSample("cpu.steal", labels, Round(100.0 * (values[7] - before[7]) / total)));
            }
        }

        _cpu = now;
    }

    private void Load(List<MetricSample> samples)
    {
        var parts = Split(File.ReadAllText(Path.Combine(procRoot, "loadavg")));
        samples.Add(new MetricSample("load.1", null, double.Parse(parts[0], CultureInfo.InvariantCulture)));
        samples.Add(new MetricSample("load.5", null, double.Parse(parts[1], CultureInfo.InvariantCulture)));
        samples.Add(new MetricSample("load.15", null, double.Parse(parts[2], CultureInfo.InvariantCulture)));
    }

    private void Memory(List<MetricSample> samples)
    {
        long total = 0, free = 0, available = -1, buffers = 0, cached = 0, reclaimable = 0, swapTotal = 0, swapFree = 0;
        foreach (var line in File.ReadLines(Path.Combine(procRoot, "meminfo")))
        {
            var colon = line.IndexOf(':');
            if (colon < 0)
                continue;
            switch (line[..colon])
            {
                case "MemTotal": total = Kb(line); break;
                case "MemFree": free = Kb(line); break;
                case "MemAvailable": available = Kb(line); break;
                case "Buffers": buffers = Kb(line); break;
                case "Cached": cached = Kb(line); break;
                case "SReclaimable": reclaimable = Kb(line); break;
                case "SwapTotal": swapTotal = Kb(line); break;
                case "SwapFree": swapFree = Kb(line); break;
            }
        }

        if (available < 0)
            available = free + buffers + cached; // kernels before 3.14
        var used = total - available;
        samples.Add(new MetricSample("mem.total", null, total * 1024.0));
        samples.Add(new MetricSample("mem.used", null, used * 1024.0));
        samples.Add(new MetricSample("mem.available", null, available * 1024.0));
        samples.Add(new MetricSample("mem.cached", null, (cached + buffers + reclaimable) * 1024.0));
        samples.Add(new MetricSample("mem.used_percent", null, total > 0 ? Round(100.0 * used / total) : 0));
        samples.Add(new MetricSample("swap.total", null, swapTotal * 1024.0));
        samples.Add(new MetricSample("swap.used", null, (swapTotal - swapFree) * 1024.0));
    }

    private void Disks(List<MetricSample> samples, double elapsed)
    {
        var now = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var block = Path.Combine(sysRoot, "block");
        foreach (var line in File.ReadLines(Path.Combine(procRoot, "diskstats")))
        {
            var p = Split(line);
            if (p.Length < 14)
                continue;
            var device = p[2];
            // Whole devices only (partitions would count the same I/O twice); loop and ram disks are noise.
            if (device.StartsWith("loop", StringComparison.Ordinal) || device.StartsWith("ram", StringComparison.Ordinal) || !Directory.Exists(Path.Combine(block, device)))
                continue;
            long F(int i) => long.Parse(p[i], CultureInfo.InvariantCulture);
            var values = new[] { F(3), F(5), F(7), F(9), F(12) }; // reads, sectors read, writes, sectors written, ms doing I/O
            now[device] = values;
            if (elapsed <= 0 || !_disk.TryGetValue(device, out var before))
                continue;
            var labels = Labels("device", device);
            samples.Add(new MetricSample("disk.read_bytes_per_second", labels, Round((values[1] - before[1]) * 512 / elapsed)));
            samples.Add(new MetricSample("disk.write_bytes_per_second", labels, Round((values[3] - before[3]) * 512 / elapsed)));
            samples.Add(new MetricSample("disk.reads_per_second", labels, Round((values[0] - before[0]) / elapsed)));
            samples.Add(new MetricSample("disk.writes_per_second", labels, Round((values[2] - before[2]) / elapsed)));
            samples.Add(new MetricSample("disk.busy_percent", labels, Round(Math.Min(100, (values[4] - before[4]) / 10.0 / elapsed))));
        }

        _disk = now;
    }

    private void FileSystems(List<MetricSample> samples)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(procRoot, "mounts")))
        {
            var p = Split(line);
            if (p.Length < 3 || ignoredFileSystems.Contains(p[2]) || !p[0].StartsWith('/'))
                continue;
            var mount = p[1].Replace("\\040", " ", StringComparison.Ordinal);
            if (!seen.Add(p[0]) || _statfs(mount) is not { Size: > 0 } usage)
                continue; // a device mounted twice (bind mounts) is reported once
            var labels = new Dictionary<string, string>(StringComparer.Ordinal) { ["mount"] = Cut(mount), ["device"] = Cut(p[0]), ["fstype"] = p[2] };
            samples.Add(new MetricSample("fs.size", labels, usage.Size));
            samples.Add(new MetricSample("fs.used", labels, usage.Used));
            samples.Add(new MetricSample("fs.available", labels, usage.Available));
            samples.Add(new MetricSample("fs.used_percent", labels, Round(100.0 * usage.Used / Math.Max(1, usage.Used + usage.Available))));
        }
    }

    private void Network(List<MetricSample> samples, double elapsed)
    {
        var now = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(Path.Combine(procRoot, "net/dev")))
        {
            var colon = line.IndexOf(':');
            if (colon < 0)
                continue;
            var name = line[..colon].Trim();
            if (name == "lo")
                continue;
            var p = Split(line[(colon + 1)..]);
            if (p.Length < 16)
                continue;
            long F(int i) => long.Parse(p[i], CultureInfo.InvariantCulture);
            var values = new[] { F(0), F(1), F(2), F(3), F(8), F(9), F(10), F(11) }; // rx bytes packets errs drop, tx bytes packets errs drop
            now[name] = values;
            if (elapsed <= 0 || !_net.TryGetValue(name, out var before))
                continue;
            var labels = Labels("interface", Cut(name));
            double Rate(int i) => Round(Math.Max(0, values[i] - before[i]) / elapsed);
            samples.Add(new MetricSample("net.rx_bytes_per_second", labels, Rate(0)));
            samples.Add(new MetricSample("net.tx_bytes_per_second", labels, Rate(4)));
            samples.Add(new MetricSample("net.rx_packets_per_second", labels, Rate(1)));
            samples.Add(new MetricSample("net.tx_packets_per_second", labels, Rate(5)));
            samples.Add(new MetricSample("net.errors_per_second", labels, Round(Rate(2) + Rate(6))));
            samples.Add(new MetricSample("net.drops_per_second", labels, Round(Rate(3) + Rate(7))));
        }

        _net = now;
    }

    private static readonly string[] TcpStates =
        ["", "established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait", "close", "close_wait", "last_ack", "listen", "closing"];

    private void Tcp(List<MetricSample> samples)
    {
        var counts = new int[TcpStates.Length];
        foreach (var file in new[] { "net/tcp", "net/tcp6" })
        {
            var path = Path.Combine(procRoot, file);
            if (!File.Exists(path))
                continue;
            foreach (var line in File.ReadLines(path).Skip(1))
            {
                var p = Split(line);
                if (p.Length > 3 && int.TryParse(p[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var st) && st > 0 && st < counts.Length)
                    counts[st]++;
            }
        }

        for (var i = 1; i < counts.Length; i++)
            samples.Add(new MetricSample("tcp.connections", Labels("state", TcpStates[i]), counts[i]));
    }

    private void Uptime(List<MetricSample> samples) =>
        samples.Add(new MetricSample("system.uptime_seconds", null, double.Parse(Split(File.ReadAllText(Path.Combine(procRoot, "uptime")))[0], CultureInfo.InvariantCulture)));

    private void Processes(List<MetricSample> samples)
    {
        var count = 0;
        foreach (var dir in Directory.EnumerateDirectories(procRoot))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (name.Length > 0 && char.IsAsciiDigit(name[0]))
                count++;
        }

        samples.Add(new MetricSample("system.processes", null, count));
    }

    /// <summary>cgroup v2 containers: Docker (systemd and cgroupfs drivers), Podman and containerd scopes.</summary>
    private void Containers(List<MetricSample> samples, double elapsed)
    {
        var root = Path.Combine(sysRoot, "fs/cgroup");
        if (!File.Exists(Path.Combine(root, "cgroup.controllers")))
            return; // not cgroup v2
        var now = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (id, dir) in FindContainers(root, 0))
        {
            var usage = ReadCpuUsage(Path.Combine(dir, "cpu.stat"));
            var labels = Labels("container", id);
            if (ReadOrNull(Path.Combine(dir, "memory.current")) is { } mem && long.TryParse(mem.Trim(), CultureInfo.InvariantCulture, out var bytes))
                samples.Add(new MetricSample("container.memory_bytes", labels, bytes));
            if (usage is not { } u)
                continue;
            now[id] = u;
            if (elapsed > 0 && _containers.TryGetValue(id, out var before))
                samples.Add(new MetricSample("container.cpu_percent", labels, Round(Math.Max(0, u - before) / 1e4 / elapsed)));
        }

        _containers = now;
    }

    private static IEnumerable<(string Id, string Dir)> FindContainers(string dir, int depth)
    {
        if (depth > 4)
            yield break;
        IEnumerable<string> children;
        try
        {
            children = Directory.EnumerateDirectories(dir).ToList();
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (var child in children)
        {
            var name = Path.GetFileName(child);
            var id = ContainerId(name, Path.GetFileName(dir));
            if (id is not null)
                yield return (id, child);
            else
            {
                foreach (var found in FindContainers(child, depth + 1))
                    yield return found;
            }
        }
    }

    /// <summary>The 12-character container id in a cgroup directory name, or null.</summary>
    internal static string? ContainerId(string name, string parent)
    {
        foreach (var prefix in new[] { "docker-", "libpod-", "cri-containerd-", "crio-" })
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(".scope", StringComparison.Ordinal))
            {
                var hex = name[prefix.Length..^".scope".Length];
                return IsHex(hex) ? hex[..12] : null;
            }
        }

        // cgroupfs driver: /sys/fs/cgroup/docker/<64 hex>
        return parent == "docker" && IsHex(name) ? name[..12] : null;
    }

    private static bool IsHex(string s) => s.Length == 64 && s.All(char.IsAsciiHexDigitLower);

    private static long? ReadCpuUsage(string path)
    {
        foreach (var line in ReadLinesOrEmpty(path))
        {
            if (line.StartsWith("usage_usec ", StringComparison.Ordinal))
                return long.Parse(line.AsSpan("usage_usec ".Length), CultureInfo.InvariantCulture);
        }

        return null;
    }

    private static FsUsage? DefaultStatfs(string mount)
    {
        try
        {
            var drive = new DriveInfo(mount);
            return drive.IsReady ? new FsUsage(drive.TotalSize, drive.AvailableFreeSpace, drive.TotalSize - drive.TotalFreeSpace) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private static Dictionary<string, string> Labels(string name, string value) => new(StringComparer.Ordinal) { [name] = value };

    private static string[] Split(string line) => line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static long Kb(string line) => long.Parse(Split(line)[1], CultureInfo.InvariantCulture);

    private static double Round(double v) => Math.Round(v, 3);

    private static string Cut(string s) => s.Length > MetricRules.MaxLabelValueLength ? s[..MetricRules.MaxLabelValueLength] : s;

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string[] ReadLinesOrEmpty(string path) => ReadOrNull(path)?.Split('\n') ?? [];
}
