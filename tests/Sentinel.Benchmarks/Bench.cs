using System.Net.Http.Json;
using System.Text.Json;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Sentinel.Benchmarks;

/// <summary>Shared measuring helpers.</summary>
internal static class Bench
{
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    public static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    public static string Env(string name) =>
        Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set (make bench exports it).");

    /// <summary>Starts a process whose output is drained (and kept for errors).</summary>
    public static Process Start(string file, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 })
                Console.Error.WriteLine("    [" + Path.GetFileName(file) + "] " + e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
            process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
        process.Dispose();
    }

    public static async Task WaitForAsync(Uri uri, TimeSpan timeout)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            try
            {
                using var response = await client.GetAsync(uri);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{uri} did not answer within {timeout.TotalSeconds} s");
    }

    /// <summary>What a closed-loop run measured: sorted latencies (ms) of the measured window, its rate, errors, and every call made (warm-up included).</summary>
    public sealed record LoopResult(List<double> Latencies, double Rps, long Errors, long Calls);

    /// <summary>
    /// A closed loop: <paramref name="connections"/> workers each send the next request as soon as the last one
    /// answered; latencies are kept for <paramref name="duration"/> after <paramref name="warmup"/>. <paramref name="call"/>
    /// sends request number n and says whether it succeeded.
    /// </summary>
    public static async Task<LoopResult> ClosedLoopAsync(int connections, TimeSpan warmup, TimeSpan duration, string authorization, Func<HttpClient, long, Task<bool>> call)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var client = new HttpClient(handler);
        if (authorization.Length > 0)
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        var latencies = new List<double>[connections];
        long errors = 0, sequence = 0;
        var measuring = false;
        var stop = false;
        var workers = Enumerable.Range(0, connections).Select(async i =>
        {
            var mine = latencies[i] = new List<double>(100_000);
            while (!Volatile.Read(ref stop))
            {
                var started = Stopwatch.GetTimestamp();
                var ok = await call(client, Interlocked.Increment(ref sequence));
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (!Volatile.Read(ref measuring))
                    continue;
                if (!ok)
                    Interlocked.Increment(ref errors);
                mine.Add(ms);
            }
        }).ToArray();

        await Task.Delay(warmup);
        Volatile.Write(ref measuring, true);
        var watch = Stopwatch.StartNew();
        await Task.Delay(duration);
        Volatile.Write(ref measuring, false);
        var elapsed = watch.Elapsed;
        Volatile.Write(ref stop, true);
        await Task.WhenAll(workers);
        var all = latencies.SelectMany(l => l).Order().ToList();
        return new LoopResult(all, all.Count / elapsed.TotalSeconds, errors, Interlocked.Read(ref sequence));
    }

    /// <summary>Starts this same program in <c>--bare-server</c> mode (the baseline Kestrel, <see cref="BareKestrel"/>), as it
    /// was itself started (apphost or <c>dotnet x.dll</c>), and waits for it; the caller stops the process.</summary>
    public static async Task<(Process Process, Uri Root)> StartBareServerAsync()
    {
        var port = FreePort();
        var self = Environment.ProcessPath!;
        string[] args = Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? [typeof(BareKestrel).Assembly.Location, "--bare-server", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]
            : ["--bare-server", port.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var process = Start(self, args);
        var root = new Uri($"http://127.0.0.1:{port}");
        await WaitForAsync(new Uri(root, "/bare"), TimeSpan.FromSeconds(30));
        return (process, root);
    }

    public const string EventHubKey = "bench-event-hub-key-0123456789";

    /// <summary>
    /// Starts <c>sentinel-functions serve --standalone</c> (framework-dependent) on a free port against the stack in the
    /// environment, with its own table prefix, Redis prefix and signing keys; optionally applies the migrations first.
    /// The caller stops it (<see cref="StandaloneHandler.DisposeAsync"/>).
    /// </summary>
    public static async Task<StandaloneHandler> StartHandlerAsync(string dll, IDictionary<string, string>? settings = null, bool migrate = false)
    {
        var port = FreePort();
        var isolation = Guid.NewGuid().ToString("N")[..10];
        var keys = Directory.CreateTempSubdirectory("sentinel-bench-keys-");
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = Env("ConnectionStrings__Postgres"),
            ["ConnectionStrings__Redis"] = Env("ConnectionStrings__Redis"),
            ["ConnectionStrings__Tables"] = Env("ConnectionStrings__Tables"),
            ["Standalone__EventHubKey"] = EventHubKey,
            ["Identity__SigningKeyDirectory"] = keys.FullName,
            ["Identity__TablePrefix"] = "bench" + isolation,
            ["Redis__KeyPrefix"] = $"bench:{isolation}:",
            ["Monitoring__AgentKeySecret"] = "bench-agent-master-secret-0123456789abcdef",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
            environment[k] = v;
        if (migrate)
        {
            using var migration = Start("dotnet", [dll, "migrate"], environment);
            await migration.WaitForExitAsync();
            if (migration.ExitCode != 0)
                throw new InvalidOperationException("migrate failed");
        }

        var process = Start("dotnet", [dll, "serve", "--standalone", "--urls", $"http://127.0.0.1:{port}"], environment);
        var handler = new StandaloneHandler(process, new Uri($"http://127.0.0.1:{port}"), isolation, keys);
        await WaitForAsync(new Uri(handler.Root, "/api/version"), TimeSpan.FromSeconds(60));
        return handler;
    }
}

/// <summary>A running standalone handler started by <see cref="Bench.StartHandlerAsync"/>.</summary>
internal sealed class StandaloneHandler(Process process, Uri root, string isolation, DirectoryInfo keys) : IAsyncDisposable
{
    public Uri Root { get; } = root;

    /// <summary>Signs up a new tenant and returns its owner's access token.</summary>
    public async Task<string> SignupAsync()
    {
        using var client = new HttpClient { BaseAddress = Root };
        using var signup = await client.PostAsJsonAsync("/api/auth/signup", new { tenantName = "bench", email = $"bench-{isolation}@example.com", password = "benchmark password" });
        signup.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await signup.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("access_token").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        await Bench.StopAsync(process);
        keys.Delete(recursive: true);
    }
}
