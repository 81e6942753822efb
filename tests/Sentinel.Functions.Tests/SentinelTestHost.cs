using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Core.Storage;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Hosting;
using Sentinel.TestSupport;

namespace Sentinel.Functions.Tests;

/// <summary>
/// The real app on real Kestrel, bound to a free loopback port, with its own migrated database and the real Redis and
/// Azurite. Settings go in as command-line configuration, the highest precedence, as a user's would.
/// </summary>
internal sealed class SentinelTestHost : IAsyncDisposable
{
    public const string EventHubKey = "test-event-hub-key-0123456789";
    public const string AgentKeySecret = "test-agent-master-secret-0123456789abcdef";

    private readonly WebApplication _app;

    private readonly string _keyDirectory;
    private readonly bool _ownTables;

    private SentinelTestHost(WebApplication app, TestDatabase? database, string keyDirectory, bool ownTables)
    {
        _app = app;
        Database = database;
        _keyDirectory = keyDirectory;
        _ownTables = ownTables;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Client = new HttpClient { BaseAddress = BaseAddress };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public TestDatabase? Database { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<SentinelTestHost> StartAsync(
        HostMode mode,
        Action<IServiceCollection>? services = null,
        IDictionary<string, string>? settings = null,
        bool database = true)
    {
        var db = database ? await TestDatabase.CreateAsync() : null;
        if (db is not null)
        {
            await new PostgresMigrator(db.DataSource, Microsoft.Extensions.Logging.Abstractions.NullLogger<PostgresMigrator>.Instance)
                .MigrateAsync(CancellationToken.None);
        }

        var isolation = Guid.NewGuid().ToString("N")[..12];
        var keyDirectory = Path.Combine(Path.GetTempPath(), "sentinel-test-keys-" + isolation);
        var all = new Dictionary<string, string>
        {
            ["urls"] = "http://127.0.0.1:0",
            // Each host has its own directory tables, Redis keys and signing keys, so test classes run in parallel.
            ["Identity:TablePrefix"] = "t" + isolation,
            ["Redis:KeyPrefix"] = $"test:{isolation}:",
            ["Identity:SigningKeyDirectory"] = keyDirectory,
            ["Identity:PasswordIterations"] = "100000",
            ["ConnectionStrings:Postgres"] = db?.ConnectionString ?? $"Host={TestServers.ClosedPort().Replace(":", ";Port=", StringComparison.Ordinal)};Username=x;Password=x;Database=x",
            ["ConnectionStrings:Redis"] = TestServers.Redis,
            ["ConnectionStrings:Tables"] = TestServers.Tables,
            ["Standalone:EventHubKey"] = EventHubKey,
            ["Monitoring:AgentKeySecret"] = AgentKeySecret,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
            all[k] = v;
        var args = all.Select(kv => $"--{kv.Key}={kv.Value}").ToArray();
        var app = SentinelApp.Build(mode, args, builder => services?.Invoke(builder.Services));
        await app.StartAsync();
        return new SentinelTestHost(app, db, keyDirectory, ownTables: all["ConnectionStrings:Tables"] == TestServers.Tables);
    }

    /// <summary>Stops the app as the host would at shutdown (hosted services drain), keeping the database for inspection.</summary>
    public Task StopAppAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        if (_ownTables)
        {
            await _app.Services.GetRequiredService<Sentinel.Core.Identity.IdentityDirectory>().DeleteTablesAsync(CancellationToken.None);
            await _app.Services.GetRequiredService<Sentinel.Core.Relay.RelayRouteStore>().DeleteTablesAsync(CancellationToken.None);
        }

        await _app.DisposeAsync();
        if (Directory.Exists(_keyDirectory))
            Directory.Delete(_keyDirectory, recursive: true);
        if (Database is not null)
            await Database.DisposeAsync();
    }
}

/// <summary>An Event Hubs function that records what it was given, and can be told to fail.</summary>
internal sealed class RecordingEventHubFunction : IEventHubFunction
{
    public ConcurrentQueue<(EventHubBatch Batch, InvocationContext Context)> Calls { get; } = new();

    public bool Fail { get; set; }

    public Task<InvocationResult> RunAsync(EventHubBatch batch, InvocationContext context, CancellationToken cancellationToken)
    {
        Calls.Enqueue((batch, context));
        return Task.FromResult(Fail ? InvocationResult.Retry("told to fail") : InvocationResult.Ok($"recorded {batch.Events.Count}"));
    }

    public IReadOnlyList<EventHubEvent> Events => Calls.SelectMany(c => c.Batch.Events).ToList();
}

/// <summary>A timer function that records what it was given.</summary>
/// <summary>Test hosts whose clock the test moves: every timer function replaced by a recorder, so only the test acts.</summary>
internal static class ManualTime
{
    public static Action<IServiceCollection> Services(TimeProvider clock) => services =>
    {
        services.AddSingleton(clock);
        foreach (var f in Sentinel.Functions.Functions.FunctionRegistry.All.Where(f => f.Trigger is Sentinel.Functions.Functions.TimerTrigger))
            services.AddKeyedSingleton<ITimerFunction>(f.Name, new RecordingTimerFunction());
    };
}

internal sealed class RecordingTimerFunction : ITimerFunction
{
    public ConcurrentQueue<(TimerInvocation Timer, InvocationContext Context)> Calls { get; } = new();

    public Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken)
    {
        Calls.Enqueue((timer, context));
        return Task.FromResult(InvocationResult.Ok("recorded"));
    }
}

internal static class Payloads
{
    public static byte[] Read(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "payloads", name));
}
