using System.Collections.Concurrent;
using Sentinel.Core.Storage.Tables;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.Storage;

/// <summary>The Table client against real Azurite: every test works in a table of its own.</summary>
public sealed class TableServiceClientTests : IAsyncLifetime
{
    private readonly TableServiceClient _client = new(TableStorageAccount.Parse(TestServers.Tables), null, TimeProvider.System);
    private readonly string _table = "t" + Guid.NewGuid().ToString("N");

    public Task InitializeAsync() => _client.CreateTableIfNotExistsAsync(_table, CancellationToken.None);

    public Task DisposeAsync() => _client.DeleteTableAsync(_table, CancellationToken.None);

    [Fact]
    public async Task CreateTableIfNotExists_Twice_IsFine() =>
        await _client.CreateTableIfNotExistsAsync(_table, CancellationToken.None);

    [Fact]
    public async Task Insert_ThenGet_RoundTripsEveryType()
    {
        var when = new DateTimeOffset(2026, 11, 22, 8, 30, 1, TimeSpan.Zero).AddTicks(1234567);
        var id = Guid.NewGuid();
        var entity = new TableEntity("p", "r")
        {
            ["Text"] = "héllo 'quoted'",
            ["Int"] = 42,
            ["Long"] = 9_007_199_254_740_993L,
            ["Double"] = 2.0,
            ["Flag"] = true,
            ["When"] = when,
            ["Id"] = id,
            ["Blob"] = new byte[] { 1, 2, 3 },
        };

        var write = await _client.InsertEntityAsync(_table, entity, CancellationToken.None);
        var read = await _client.GetEntityAsync(_table, "p", "r", CancellationToken.None);

        Assert.True(write.Succeeded);
        Assert.NotNull(write.ETag);
        Assert.NotNull(read);
        Assert.Equal(write.ETag, read.ETag);
        Assert.NotNull(read.Timestamp);
        Assert.Equal("héllo 'quoted'", read.GetString("Text"));
        Assert.Equal(42, read.GetInt32("Int"));
        Assert.Equal(9_007_199_254_740_993L, read.GetInt64("Long"));
        Assert.Equal(2.0, read["Double"]);
        Assert.True(read.GetBoolean("Flag"));
        Assert.Equal(when, read.GetDateTimeOffset("When"));
        Assert.Equal(id, read.GetGuid("Id"));
        Assert.Equal(new byte[] { 1, 2, 3 }, read.GetBinary("Blob"));
    }

    [Fact]
    public async Task Insert_ExistingKeys_IsConflictAndKeepsTheFirst()
    {
        await _client.InsertEntityAsync(_table, new TableEntity("p", "dup") { ["V"] = 1 }, CancellationToken.None);

        var second = await _client.InsertEntityAsync(_table, new TableEntity("p", "dup") { ["V"] = 2 }, CancellationToken.None);

        Assert.Equal(TableOutcome.Conflict, second.Outcome);
        Assert.Equal(1, (await _client.GetEntityAsync(_table, "p", "dup", CancellationToken.None))!.GetInt32("V"));
    }

    [Fact]
    public async Task Get_Missing_IsNull() =>
        Assert.Null(await _client.GetEntityAsync(_table, "p", "nobody", CancellationToken.None));

    [Fact]
    public async Task Update_StaleETag_IsPreconditionFailedAndChangesNothing()
    {
        var first = await _client.InsertEntityAsync(_table, new TableEntity("p", "e") { ["V"] = 1 }, CancellationToken.None);
        var second = await _client.UpdateEntityAsync(_table, new TableEntity("p", "e") { ["V"] = 2 }, first.ETag!, merge: false, CancellationToken.None);

        var stale = await _client.UpdateEntityAsync(_table, new TableEntity("p", "e") { ["V"] = 3 }, first.ETag!, merge: false, CancellationToken.None);

        Assert.True(second.Succeeded);
        Assert.NotEqual(first.ETag, second.ETag);
        Assert.Equal(TableOutcome.PreconditionFailed, stale.Outcome);
        Assert.Equal(2, (await _client.GetEntityAsync(_table, "p", "e", CancellationToken.None))!.GetInt32("V"));
    }

    [Fact]
    public async Task Update_Missing_IsNotFound()
    {
        var result = await _client.UpdateEntityAsync(_table, new TableEntity("p", "ghost") { ["V"] = 1 }, "*", merge: true, CancellationToken.None);

        Assert.Equal(TableOutcome.NotFound, result.Outcome);
    }

    [Fact]
    public async Task Merge_KeepsOtherProperties_ReplaceDropsThem()
    {
        await _client.InsertEntityAsync(_table, new TableEntity("p", "m") { ["A"] = "a", ["B"] = "b" }, CancellationToken.None);

        await _client.UpsertEntityAsync(_table, new TableEntity("p", "m") { ["B"] = "b2" }, merge: true, CancellationToken.None);
        var merged = await _client.GetEntityAsync(_table, "p", "m", CancellationToken.None);
        await _client.UpsertEntityAsync(_table, new TableEntity("p", "m") { ["C"] = "c" }, merge: false, CancellationToken.None);
        var replaced = await _client.GetEntityAsync(_table, "p", "m", CancellationToken.None);

        Assert.Equal(("a", "b2"), (merged!.GetString("A"), merged.GetString("B")));
        Assert.Equal((null, null, "c"), (replaced!.GetString("A"), replaced.GetString("B"), replaced.GetString("C")));
    }

    [Fact]
    public async Task Delete_WithStaleETag_IsRefused_WithCurrentETag_Deletes()
    {
        var first = await _client.InsertEntityAsync(_table, new TableEntity("p", "d") { ["V"] = 1 }, CancellationToken.None);
        var second = await _client.UpsertEntityAsync(_table, new TableEntity("p", "d") { ["V"] = 2 }, merge: false, CancellationToken.None);

        var refused = await _client.DeleteEntityAsync(_table, "p", "d", first.ETag!, CancellationToken.None);
        var deleted = await _client.DeleteEntityAsync(_table, "p", "d", second.ETag!, CancellationToken.None);
        var again = await _client.DeleteEntityAsync(_table, "p", "d", "*", CancellationToken.None);

        Assert.Equal(TableOutcome.PreconditionFailed, refused);
        Assert.Equal(TableOutcome.Ok, deleted);
        Assert.Equal(TableOutcome.NotFound, again);
    }

    [Fact]
    public async Task ConcurrentIncrements_WithETags_LoseNoUpdate()
    {
        await _client.InsertEntityAsync(_table, new TableEntity("p", "counter") { ["N"] = 0 }, CancellationToken.None);
        var conflicts = 0;

        async Task IncrementAsync()
        {
            while (true)
            {
                var current = (await _client.GetEntityAsync(_table, "p", "counter", CancellationToken.None))!;
                var next = new TableEntity("p", "counter") { ["N"] = current.GetInt32("N")!.Value + 1 };
                var result = await _client.UpdateEntityAsync(_table, next, current.ETag!, merge: false, CancellationToken.None);
                if (result.Succeeded)
                    return;
                Assert.Equal(TableOutcome.PreconditionFailed, result.Outcome);
                Interlocked.Increment(ref conflicts);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(IncrementAsync)));

        Assert.Equal(20, (await _client.GetEntityAsync(_table, "p", "counter", CancellationToken.None))!.GetInt32("N"));
        Assert.True(conflicts > 0, "20 concurrent writers should have collided at least once");
    }

    [Fact]
    public async Task Query_OverThousandEntities_FollowsContinuation()
    {
        const int count = 1_234;
        var inserts = new ConcurrentBag<TableOutcome>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
            inserts.Add((await _client.InsertEntityAsync(_table, new TableEntity("bulk", i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)) { ["I"] = i }, ct)).Outcome));
        await _client.InsertEntityAsync(_table, new TableEntity("other", "x"), CancellationToken.None);

        var firstPage = await _client.QueryPageAsync(_table, TableFilter.PartitionKey("bulk"), null, null, null, CancellationToken.None);
        var all = new List<int>();
        await foreach (var e in _client.QueryAsync(_table, TableFilter.PartitionKey("bulk"), ["I"]))
            all.Add(e.GetInt32("I")!.Value);

        Assert.All(inserts, o => Assert.Equal(TableOutcome.Ok, o));
        Assert.Equal(1000, firstPage.Entities.Count);
        Assert.NotNull(firstPage.Continuation);
        Assert.Equal(Enumerable.Range(0, count), all);
    }

    [Fact]
    public async Task QueryPage_Top_PagesThroughInKeyOrder()
    {
        foreach (var rk in new[] { "c", "a", "b" })
            await _client.InsertEntityAsync(_table, new TableEntity("paged", rk), CancellationToken.None);

        var keys = new List<string>();
        TableContinuation? next = null;
        var pages = 0;
        do
        {
            var page = await _client.QueryPageAsync(_table, TableFilter.PartitionKey("paged"), null, 1, next, CancellationToken.None);
            keys.AddRange(page.Entities.Select(e => e.RowKey));
            next = page.Continuation;
            pages++;
        }
        while (next is not null);

        Assert.Equal(["a", "b", "c"], keys);
        Assert.True(pages >= 3);
    }

    [Theory]
    [InlineData("o'neil")]
    [InlineData("a/b\\c#d?e")]
    [InlineData("100% sure")]
    [InlineData("tab\there\u0001\u007f\u0085")]
    [InlineData("' or PartitionKey ne '")]
    [InlineData("ünïcødé ✓ 😀")]
    public async Task EscapedKeys_RoundTripThroughTheService(string raw)
    {
        var key = TableKey.Escape(raw);
        await _client.InsertEntityAsync(_table, new TableEntity(key, key) { ["Raw"] = raw }, CancellationToken.None);

        var read = await _client.GetEntityAsync(_table, key, key, CancellationToken.None);
        var queried = new List<TableEntity>();
        await foreach (var e in _client.QueryAsync(_table, TableFilter.PartitionKey(key)))
            queried.Add(e);

        Assert.True(TableKey.IsValid(key));
        Assert.Equal(raw, TableKey.Unescape(read!.PartitionKey));
        Assert.Equal(raw, read.GetString("Raw"));
        Assert.Single(queried);
    }

    [Fact]
    public async Task Filter_InjectionLookingValue_MatchesNothing()
    {
        await _client.InsertEntityAsync(_table, new TableEntity("tenant-a", "1"), CancellationToken.None);

        var hits = new List<TableEntity>();
        await foreach (var e in _client.QueryAsync(_table, TableFilter.PartitionKey("x' or PartitionKey ne 'x")))
            hits.Add(e);

        Assert.Empty(hits);
    }

    [Fact]
    public void KeyEscaping_IsReversibleForForbiddenCharacters()
    {
        var raw = string.Concat(Enumerable.Range(0, 0xA0).Select(i => (char)i)) + "%/\\#?";

        var escaped = TableKey.Escape(raw);

        Assert.True(TableKey.IsValid(escaped));
        Assert.Equal(raw, TableKey.Unescape(escaped));
        Assert.Equal("plain", TableKey.Escape("plain"));
    }

    [Fact]
    public async Task UnescapedForbiddenKey_IsRefusedBeforeTheWire() =>
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetEntityAsync(_table, "a/b", "r", CancellationToken.None));

    [Fact]
    public void InvalidTableName_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => TableServiceClient.ValidateTableName("1abc"));
        Assert.Throws<ArgumentException>(() => TableServiceClient.ValidateTableName("ab"));
        Assert.Throws<ArgumentException>(() => TableServiceClient.ValidateTableName("tables"));
    }
}
