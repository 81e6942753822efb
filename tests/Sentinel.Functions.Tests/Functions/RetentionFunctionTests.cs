using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Sentinel.Core.RequestLog;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Tests.Functions;

public sealed class RetentionFunctionTests
{
    [Fact]
    public async Task RetentionTimer_UnderTheHost_KeepsTheRequestLogPartitions()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Functions, settings: new Dictionary<string, string> { ["FUNCTIONS_CUSTOMHANDLER_PORT"] = "1" });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/retention", UriKind.Relative)) { Content = new ByteArrayContent(Payloads.Read("timer-first-run.json")) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await host.Client.SendAsync(request);
        using var envelope = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("request_log: created 3 partition(s)", envelope.RootElement.GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
        var today = RequestLogRetention.PartitionName(DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime));
        Assert.Equal(1, await host.Database!.ScalarAsync($"select count(*) from pg_class where relname = '{today}'"));
    }
}
