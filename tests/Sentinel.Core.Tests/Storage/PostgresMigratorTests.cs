using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Core.Storage;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.Storage;

public class PostgresMigratorTests
{
    [Fact]
    public void Embedded_AreOrderedAndNamed()
    {
        Assert.NotEmpty(PostgresMigrator.Embedded);
        Assert.Equal(1, PostgresMigrator.Embedded[0].Version);
        Assert.Equal("foundation", PostgresMigrator.Embedded[0].Name);
        Assert.True(PostgresMigrator.Embedded.Zip(PostgresMigrator.Embedded.Skip(1)).All(p => p.First.Version < p.Second.Version));
    }

    [Fact]
    public async Task MigrateAsync_FreshDatabase_AppliesAllThenNothing()
    {
        await using var db = await TestDatabase.CreateAsync();
        var migrator = new PostgresMigrator(db.DataSource, NullLogger<PostgresMigrator>.Instance);

        var first = await migrator.MigrateAsync(CancellationToken.None);
        var second = await migrator.MigrateAsync(CancellationToken.None);

        Assert.Equal(PostgresMigrator.Embedded.Count, first.Applied.Count);
        Assert.Empty(second.Applied);
        Assert.Equal(PostgresMigrator.Embedded.Count, second.AlreadyApplied);
        Assert.Equal(0, await db.ScalarAsync("select count(*) from rejected_events"));
        Assert.Equal(PostgresMigrator.Embedded.Count, await db.ScalarAsync("select count(*) from schema_migrations"));
    }

    [Fact]
    public async Task MigrateAsync_ManyInstancesAtOnce_AppliesEachMigrationOnce()
    {
        await using var db = await TestDatabase.CreateAsync();

        var reports = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            Task.Run(() => new PostgresMigrator(db.DataSource, NullLogger<PostgresMigrator>.Instance).MigrateAsync(CancellationToken.None))));

        Assert.Equal(PostgresMigrator.Embedded.Count, reports.Sum(r => r.Applied.Count));
        Assert.Equal(PostgresMigrator.Embedded.Count, await db.ScalarAsync("select count(*) from schema_migrations"));
    }

    [Fact]
    public async Task MigrateAsync_AppliedMigrationEdited_Refuses()
    {
        await using var db = await TestDatabase.CreateAsync();
        var migrator = new PostgresMigrator(db.DataSource, NullLogger<PostgresMigrator>.Instance);
        await migrator.MigrateAsync(CancellationToken.None);
        await using (var tamper = db.DataSource.CreateCommand("update schema_migrations set checksum = 'edited' where version = 1"))
            await tamper.ExecuteNonQueryAsync();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.MigrateAsync(CancellationToken.None));
        Assert.Contains("changed after it was applied", ex.Message, StringComparison.Ordinal);
    }
}
