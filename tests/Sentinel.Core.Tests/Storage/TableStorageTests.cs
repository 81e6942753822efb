using Azure;
using Sentinel.Core.Storage.Tables;
using Sentinel.TestSupport;

namespace Sentinel.Core.Tests.Storage;

public class TableStorageTests
{
    private const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    [Fact]
    public void Sign_PublishedVector_MatchesAzurite()
    {
        // shared/research/azure-rest-protocols.md §B3: accepted by Azurite; the account appears twice in path-style URLs.
        var account = new TableStorageAccount(new Uri("http://127.0.0.1:10002/devstoreaccount1/"), "devstoreaccount1", Convert.FromBase64String(DevKey));

        var header = TableSharedKeyLitePolicy.Sign(account, "Mon, 01 Jan 2024 00:00:00 GMT", "/devstoreaccount1/Tables", null);

        Assert.Equal("SharedKeyLite devstoreaccount1:13UOPPE/P1+LLsRFYJCHphuPCEQ21EO/4WbbW+OXG4U=", header);
    }

    [Fact]
    public void Parse_DevelopmentStorage_IsAzuriteDefault()
    {
        var account = TableStorageAccount.Parse("UseDevelopmentStorage=true");

        Assert.Equal("http://127.0.0.1:10002/devstoreaccount1/", account.Endpoint.ToString());
        Assert.Equal("devstoreaccount1", account.AccountName);
        Assert.Equal(Convert.FromBase64String(DevKey), account.AccountKey);
    }

    [Fact]
    public void Parse_AzureAccount_BuildsEndpointFromSuffix()
    {
        var account = TableStorageAccount.Parse($"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={DevKey};EndpointSuffix=core.windows.net");

        Assert.Equal("https://acct.table.core.windows.net/", account.Endpoint.ToString());
        Assert.DoesNotContain(DevKey, account.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AccountName=acct")]
    [InlineData("AccountKey=abc")]
    [InlineData("AccountName=acct;AccountKey=not base64!")]
    [InlineData("nonsense")]
    public void Parse_Incomplete_Throws(string value) =>
        Assert.Throws<FormatException>(() => TableStorageAccount.Parse(value));

    [Fact]
    public async Task Ping_RealAzurite_Succeeds()
    {
        var client = new TableServiceClient(TableStorageAccount.Parse(TestServers.Tables), null, TimeProvider.System);

        await client.PingAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Ping_WrongKey_IsRefusedByAzurite()
    {
        var good = TableStorageAccount.Parse(TestServers.Tables);
        var bad = good with { AccountKey = new byte[64] };
        var client = new TableServiceClient(bad, null, TimeProvider.System);

        var ex = await Assert.ThrowsAsync<RequestFailedException>(() => client.PingAsync(CancellationToken.None));
        Assert.Equal(403, ex.Status);
    }
}
