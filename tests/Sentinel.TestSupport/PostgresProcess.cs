using System.Diagnostics;
using System.Globalization;

namespace Sentinel.TestSupport;

/// <summary>
/// A private PostgreSQL server (the binaries <c>.ci/stack</c> installs, run as the <c>postgres</c> user as it does) in a
/// temporary data directory on its own port, for tests that stop and restart PostgreSQL — the shared one must stay up
/// for everyone else. Trust authentication on loopback; stop is immediate (as a crash or an outage would be).
/// </summary>
public sealed class PostgresProcess : IAsyncDisposable
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private readonly string _dir;

    private PostgresProcess(string dir, int port)
    {
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=3;Pooling=true";

    public static async Task<PostgresProcess> StartAsync()
    {
        var port = int.Parse(TestServers.ClosedPort().Split(':')[1], CultureInfo.InvariantCulture);
        var dir = Path.Combine(Path.GetTempPath(), "sentinel-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        await RunAsync("chown", "postgres:postgres", dir);
        await RunAsync("runuser", "-u", "postgres", "--", Bin + "/initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8");
        var pg = new PostgresProcess(dir, port);
        await pg.StartAgainAsync();
        return pg;
    }

    public Task StartAgainAsync() => RunAsync("runuser", "-u", "postgres", "--", Bin + "/pg_ctl", "-D", _dir, "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60", "start",
        "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -c unix_socket_directories={_dir} -c fsync=off -c max_connections=50");

    /// <summary>Stops the server at once (connections cut, as in a crash); the data stays for <see cref="StartAgainAsync"/>.</summary>
    public Task StopAsync() => RunAsync("runuser", "-u", "postgres", "--", Bin + "/pg_ctl", "-D", _dir, "-m", "immediate", "-w", "stop");

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}{await stdout}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }

        Directory.Delete(_dir, recursive: true);
    }
}
