using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Sentinel.Core.Storage;
using Sentinel.Functions.Hosting;
using Sentinel.TestSupport;

namespace Sentinel.Functions.Tests.Hosting;

/// <summary>
/// The schema is brought up to date when the handler starts (what a deployment relies on instead of a migration step):
/// a new database gets every migration, several instances starting together apply each once, and an unreachable
/// database delays nothing but is migrated as soon as it answers — meanwhile /api/health says why.
/// </summary>
public sealed class StartupMigrationsTests
{
    [Fact]
    public async Task NewDatabase_IsMigratedBeforeTheFirstRequest_OnceAcrossInstances()
    {
        await using var db = await TestDatabase.CreateAsync();
        var settings = new Dictionary<string, string> { ["ConnectionStrings:Postgres"] = db.ConnectionString };
        // Three instances of a freshly deployed app start at the same moment against the empty database.
        var hosts = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => SentinelTestHost.StartAsync(HostMode.Standalone, settings: settings, database: false)));
        try
        {
            Assert.Equal(PostgresMigrator.Embedded.Count, await db.ScalarAsync("select count(*) from schema_migrations"));
            Assert.Equal(PostgresMigrator.Embedded[^1].Version, await db.ScalarAsync("select max(version) from schema_migrations"));
            // The tables are there for the first request.
            Assert.Equal(0, await db.ScalarAsync("select count(*) from relay_messages"));
            foreach (var host in hosts)
                Assert.Equal("up", await PostgresStatusAsync(host));
        }
        finally
        {
            foreach (var host in hosts)
                await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task UnreachableDatabase_DoesNotBlockStart_AndIsMigratedWhenItAnswers()
    {
        await using var db = await TestDatabase.CreateAsync();
        var upstream = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        await using var gate = TcpGate.Start(new IPEndPoint(IPAddress.Loopback, upstream.Port));
        gate.Close();
        var viaGate = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Host = "127.0.0.1", Port = gate.Port, Timeout = 2 };

        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, database: false, settings: new Dictionary<string, string>
        {
            ["ConnectionStrings:Postgres"] = viaGate.ConnectionString,
            ["Migrations:StartTimeout"] = "00:00:03",
            ["Migrations:RetryInterval"] = "00:00:00.500",
        });
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10), $"start took {started.Elapsed}");
        Assert.Equal("down", await PostgresStatusAsync(host));
        Assert.NotNull(host.Services.GetRequiredService<SchemaState>().Problem);

        gate.Open();
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (host.Services.GetRequiredService<SchemaState>().Problem is not null)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), "the background retry never migrated the database");
            await Task.Delay(100);
        }

        Assert.Equal(PostgresMigrator.Embedded.Count, await db.ScalarAsync("select count(*) from schema_migrations"));
        Assert.Equal("up", await PostgresStatusAsync(host));
    }

    [Fact]
    public async Task ChangedMigration_IsReportedByHealth_NotRetried()
    {
        await using var db = await TestDatabase.CreateAsync();
        await new PostgresMigrator(db.DataSource, Microsoft.Extensions.Logging.Abstractions.NullLogger<PostgresMigrator>.Instance).MigrateAsync(CancellationToken.None);
        // As if a package shipped an edited migration: the ledger no longer matches.
        await db.ScalarAsync("update schema_migrations set checksum = 'edited' where version = 1 returning 1");
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, database: false,
            settings: new Dictionary<string, string> { ["ConnectionStrings:Postgres"] = db.ConnectionString });

        Assert.Contains("changed after it was applied", host.Services.GetRequiredService<SchemaState>().Problem, StringComparison.Ordinal);
        using var response = await host.Client.GetAsync(new Uri("api/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var postgres = health.RootElement.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("name").GetString() == "postgres");
        Assert.Equal("down", postgres.GetProperty("status").GetString());
        Assert.Contains("changed after it was applied", postgres.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private static async Task<string> PostgresStatusAsync(SentinelTestHost host)
    {
        using var response = await host.Client.GetAsync(new Uri("api/health", UriKind.Relative));
        using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return health.RootElement.GetProperty("dependencies").EnumerateArray().Single(d => d.GetProperty("name").GetString() == "postgres").GetProperty("status").GetString()!;
    }
}
