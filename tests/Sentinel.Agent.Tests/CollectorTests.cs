using Sentinel.Agent.Collectors;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Agent.Tests;

/// <summary>The collectors over a fixture /proc and /sys tree (two passes 10 s apart, exact figures) and over this machine.</summary>
public sealed class CollectorTests : IDisposable
{
    private const long Hz = 1_000_000;
    private const string Container = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private readonly string _root = Directory.CreateTempSubdirectory("agent-fixture-").FullName;

    private string Proc => Path.Combine(_root, "proc");
    private string Sys => Path.Combine(_root, "sys");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Write(string path, string text)
    {
        var full = Path.Combine(_root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    private void Pass(int n)
    {
        // cpu: user nice system idle iowait irq softirq steal; pass 2 adds 1000 jiffies: 250 busy, 700 idle, 50 iowait.
        Write("proc/stat", n == 1
            ? "cpu  1000 0 500 8000 100 0 0 0 0 0\ncpu0 500 0 250 4000 50 0 0 0 0 0\nintr 1 2 3\n"
            : "cpu  1200 0 550 8700 150 0 0 0 0 0\ncpu0 600 0 300 4300 50 0 0 0 0 0\nintr 1 2 3\n");
        Write("proc/loadavg", "0.50 0.40 0.30 2/345 6789\n");
        Write("proc/meminfo", "MemTotal:       16000000 kB\nMemFree:         2000000 kB\nMemAvailable:    8000000 kB\nBuffers:          500000 kB\nCached:          3000000 kB\nSReclaimable:     500000 kB\nSwapTotal:       2000000 kB\nSwapFree:        1500000 kB\n");
        // reads completed, sectors read, writes completed, sectors written, ms doing I/O (fields 4, 6, 8, 10, 13)
        Write("proc/diskstats", n == 1
            ? "   8       0 sda 1000 0 20000 0 500 0 10000 0 0 2000 0 0 0 0 0 0 0\n   8       1 sda1 900 0 18000 0 400 0 9000 0 0 1500 0 0 0 0 0 0 0\n   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            : "   8       0 sda 1100 0 40480 0 700 0 30480 0 0 7000 0 0 0 0 0 0 0\n   8       1 sda1 1000 0 38000 0 600 0 29000 0 0 6000 0 0 0 0 0 0 0\n   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
        Directory.CreateDirectory(Path.Combine(Sys, "block/sda"));
        Directory.CreateDirectory(Path.Combine(Sys, "block/loop0"));
        Write("proc/mounts", "/dev/sda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\ntmpfs /run tmpfs rw 0 0\n/dev/sda1 /var/lib/docker ext4 rw 0 0\noverlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n");
        Write("proc/net/dev", "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 999 9 0 0 0 0 0 0 999 9 0 0 0 0 0 0\n" + (n == 1
            ? "  eth0: 100000 1000 0 0 0 0 0 0 50000 500 0 0 0 0 0 0\n"
            : "  eth0: 200000 2000 5 2 0 0 0 0 70000 700 1 0 0 0 0 0\n"));
        Write("proc/net/tcp", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n   1: 0100007F:1538 0100007F:D2C4 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n   2: 0100007F:1538 0100007F:D2C6 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n");
        Write("proc/net/tcp6", "  sl  local_address rem_address   st\n   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0\n   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 06 0\n");
        Write("proc/uptime", "12345.67 23456.78\n");
        Directory.CreateDirectory(Path.Combine(Proc, "1"));
        Directory.CreateDirectory(Path.Combine(Proc, "42"));
        Directory.CreateDirectory(Path.Combine(Proc, "sys"));
        Write("sys/fs/cgroup/cgroup.controllers", "cpu memory io\n");
        Write($"sys/fs/cgroup/system.slice/docker-{Container}.scope/cpu.stat", $"usage_usec {(n == 1 ? 1_000_000 : 6_000_000)}\nuser_usec 1\n");
        Write($"sys/fs/cgroup/system.slice/docker-{Container}.scope/memory.current", "104857600\n");
        Write("sys/fs/cgroup/system.slice/cron.service/cpu.stat", "usage_usec 5\n");
    }

    private static double Value(List<MetricSample> samples, string name, params (string, string)[] labels) =>
        Assert.Single(samples, s => s.Name == name && labels.All(l => s.Labels is not null && s.Labels.TryGetValue(l.Item1, out var v) && v == l.Item2)).Value;

    [Fact]
    public void FixtureTree_TwoPassesTenSecondsApart_GiveExactGaugesAndRates()
    {
        var collector = new SystemCollector(Proc, Sys, new AgentConfig().IgnoreFileSystems,
            mount => mount == "/" ? new FsUsage(100_000, 25_000, 70_000) : mount == "/var/lib/docker" ? new FsUsage(1, 1, 0) : null);
        Pass(1);
        var first = collector.Collect(10 * Hz, Hz);
        Pass(2);
        var second = collector.Collect(20 * Hz, Hz);

        Assert.DoesNotContain(first, s => s.Name.EndsWith("_per_second", StringComparison.Ordinal) || s.Name == "cpu.usage"); // rates need a previous pass
        Assert.Equal(25.0, Value(second, "cpu.usage", ("core", "total")));
        Assert.Equal(5.0, Value(second, "cpu.iowait", ("core", "total")));
        Assert.Equal(33.333, Value(second, "cpu.usage", ("core", "0")));   // 150 busy of 450
        Assert.Equal(0.5, Value(second, "load.1"));
        Assert.Equal(8_000_000 * 1024.0, Value(second, "mem.used"));
        Assert.Equal(50.0, Value(second, "mem.used_percent"));
        Assert.Equal(4_000_000 * 1024.0, Value(second, "mem.cached"));
        Assert.Equal(500_000 * 1024.0, Value(second, "swap.used"));
        Assert.Equal(20480 * 512 / 10.0, Value(second, "disk.read_bytes_per_second", ("device", "sda")));
        Assert.Equal(20480 * 512 / 10.0, Value(second, "disk.write_bytes_per_second", ("device", "sda")));
        Assert.Equal(10.0, Value(second, "disk.reads_per_second", ("device", "sda")));
        Assert.Equal(20.0, Value(second, "disk.writes_per_second", ("device", "sda")));
        Assert.Equal(50.0, Value(second, "disk.busy_percent", ("device", "sda")));
        Assert.DoesNotContain(second, s => s.Labels?.GetValueOrDefault("device") is "sda1" or "loop0");
        Assert.Equal(70_000.0, Value(second, "fs.used", ("mount", "/")));
        Assert.Equal(73.684, Value(second, "fs.used_percent", ("mount", "/")));
        Assert.DoesNotContain(second, s => s.Name == "fs.size" && s.Labels!["mount"] != "/"); // pseudo fs and the bind mount of the same device skipped
        Assert.Equal(10_000.0, Value(second, "net.rx_bytes_per_second", ("interface", "eth0")));
        Assert.Equal(2_000.0, Value(second, "net.tx_bytes_per_second", ("interface", "eth0")));
        Assert.Equal(100.0, Value(second, "net.rx_packets_per_second", ("interface", "eth0")));
        Assert.Equal(0.6, Value(second, "net.errors_per_second", ("interface", "eth0")));
        Assert.Equal(0.2, Value(second, "net.drops_per_second", ("interface", "eth0")));
        Assert.DoesNotContain(second, s => s.Labels?.GetValueOrDefault("interface") == "lo");
        Assert.Equal(2.0, Value(second, "tcp.connections", ("state", "established")));
        Assert.Equal(2.0, Value(second, "tcp.connections", ("state", "listen")));
        Assert.Equal(1.0, Value(second, "tcp.connections", ("state", "time_wait")));
        Assert.Equal(12345.67, Value(second, "system.uptime_seconds"));
        Assert.Equal(2.0, Value(second, "system.processes"));
        Assert.Equal(50.0, Value(second, "container.cpu_percent", ("container", Container[..12]))); // 5 s of CPU in 10 s
        Assert.Equal(104857600.0, Value(second, "container.memory_bytes", ("container", Container[..12])));
        Assert.Single(second, s => s.Name == "container.memory_bytes"); // cron.service is not a container
    }

    [Fact]
    public void ContainerIds_AreRecognisedForDockerPodmanContainerdAndCgroupfs()
    {
        Assert.Equal(Container[..12], SystemCollector.ContainerId($"docker-{Container}.scope", "system.slice"));
        Assert.Equal(Container[..12], SystemCollector.ContainerId($"libpod-{Container}.scope", "machine.slice"));
        Assert.Equal(Container[..12], SystemCollector.ContainerId($"cri-containerd-{Container}.scope", "kubepods"));
        Assert.Equal(Container[..12], SystemCollector.ContainerId(Container, "docker"));
        Assert.Null(SystemCollector.ContainerId("docker-short.scope", "system.slice"));
        Assert.Null(SystemCollector.ContainerId("ssh.service", "system.slice"));
    }

    [Fact]
    public async Task RealMachine_TwoPasses_GiveValidBatchWithTheCoreMetrics()
    {
        var collector = new SystemCollector("/proc", "/sys", new AgentConfig().IgnoreFileSystems);
        collector.Collect(System.Diagnostics.Stopwatch.GetTimestamp(), System.Diagnostics.Stopwatch.Frequency);
        await Task.Delay(500);
        var samples = collector.Collect(System.Diagnostics.Stopwatch.GetTimestamp(), System.Diagnostics.Stopwatch.Frequency);

        var batch = new MetricBatch(MetricBatch.CurrentVersion, "real", 1, "host", TimeProvider.System.GetUtcNow(), 10, samples, collector.Facts());
        Assert.Null(MetricRules.Validate(batch));
        var cpu = Value(samples, "cpu.usage", ("core", "total"));
        Assert.InRange(cpu, 0, 100);
        Assert.Equal(Environment.ProcessorCount, samples.Count(s => s.Name == "cpu.usage") - 1);
        Assert.True(Value(samples, "mem.total") > 0);
        Assert.InRange(Value(samples, "mem.used_percent"), 0, 100);
        Assert.True(Value(samples, "system.processes") > 1);
        Assert.True(Value(samples, "system.uptime_seconds") > 0);
        Assert.Contains(samples, s => s.Name == "fs.used_percent" && s.Labels!["mount"] == "/");
        Assert.Contains(samples, s => s.Name == "tcp.connections");
        Assert.Equal(Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture), collector.Facts()["cpus"]);
    }
}
