using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Tests.CustomHandler;

/// <summary>POSTs envelopes shaped like the protocol notes to <c>/{FunctionName}</c> on the real process (serve mode) and
/// checks both what the handler was given and the response envelope the host will read.</summary>
public sealed class InvocationContractTests : IAsyncLifetime
{
    private readonly RecordingEventHubFunction _ingest = new();
    private readonly RecordingTimerFunction _timer = new();
    private SentinelTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SentinelTestHost.StartAsync(HostMode.Functions, services =>
    {
        services.AddKeyedSingleton<IEventHubFunction>(FunctionRegistry.IngestMetrics, _ingest);
        foreach (var name in new[] { FunctionRegistry.Retention, FunctionRegistry.RelayRedrive, FunctionRegistry.AlertsAbsent })
            services.AddKeyedSingleton<ITimerFunction>(name, _timer);
    });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task GetRoot_AnswersAtOnce()
    {
        using var response = await _host.Client.GetAsync(new Uri("/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task EventHubBatch_DoubleEncoded_IsUnwrappedWithAlignedMetadata()
    {
        var (status, envelope) = await InvokeAsync("ingest-metrics", "eventhub-batch-string.json", "inv-1");

        Assert.Equal(HttpStatusCode.OK, status);
        var (batch, context) = Assert.Single(_ingest.Calls);
        Assert.Equal("inv-1", context.InvocationId);
        Assert.Equal(0, context.RetryCount);
        Assert.Equal(new EventHubPartition("sentinel-ns.servicebus.windows.net", "agent-metrics", "ingest", "3"), batch.Partition);
        Assert.Collection(batch.Events,
            e =>
            {
                Assert.Equal("""{"agentId":"a1","seq":10,"cpu":0.5}""", e.Body);
                Assert.Equal(10, e.SequenceNumber);
                Assert.Equal("4294967296", e.Offset);
                Assert.Equal(new DateTimeOffset(2025, 3, 4, 10, 15, 30, 123, TimeSpan.Zero), e.EnqueuedTime);
                Assert.Equal("a1", e.PartitionKey);
                Assert.Equal("abc", e.Property("sig"));
                Assert.Equal("1", e.Property("kv"));
            },
            e =>
            {
                Assert.Equal(11, e.SequenceNumber);
                Assert.Equal(new DateTimeOffset(2025, 3, 4, 10, 15, 31, 500, TimeSpan.Zero), e.EnqueuedTime);
                Assert.Null(e.Property("sig"));
            });
        AssertEnvelope(envelope, "recorded 2");
    }

    [Fact]
    public async Task EventHubBatch_RetryAndOlderExtension_ReadsRetryCountAndFallbacks()
    {
        var (status, _) = await InvokeAsync("ingest-metrics", "eventhub-batch-retry.json", "inv-2");

        Assert.Equal(HttpStatusCode.OK, status);
        var (batch, context) = Assert.Single(_ingest.Calls);
        Assert.Equal(3, context.RetryCount);
        var e = Assert.Single(batch.Events);
        Assert.Equal(42, e.SequenceNumber);                       // number sent as a string
        Assert.Equal("-1", e.Offset);                             // no OffsetStringArray: OffsetArray
        Assert.Null(e.PartitionKey);
        Assert.Equal(new DateTimeOffset(2025, 3, 4, 10, 15, 30, TimeSpan.Zero), e.EnqueuedTime); // culture-formatted
        Assert.Equal("0", batch.Partition.PartitionId);
    }

    [Fact]
    public async Task EventHubBatch_HandlerAsksRetry_AnswersNon2xxWithEnvelope()
    {
        _ingest.Fail = true;

        var (status, envelope) = await InvokeAsync("ingest-metrics", "eventhub-batch-string.json", "inv-3");

        Assert.Equal(HttpStatusCode.InternalServerError, status);
        AssertEnvelope(envelope, "told to fail");
    }

    [Theory]
    [InlineData("relay-redrive", "timer-null-status.json", null, null, false)]
    [InlineData("retention", "timer-first-run.json", null, "2025-03-04T10:17:00Z", false)]
    [InlineData("alerts-absent", "timer-populated-status.json", "2025-03-04T10:10:00.0034Z", "2025-03-04T10:15:00Z", true)]
    public async Task Timer_ScheduleStatusShapes_AreRead(string function, string payload, string? last, string? next, bool pastDue)
    {
        var (status, envelope) = await InvokeAsync(function, payload, "inv-t");

        Assert.Equal(HttpStatusCode.OK, status);
        var (timer, context) = Assert.Single(_timer.Calls);
        Assert.Equal(function, context.FunctionName);
        Assert.Equal(last is null ? null : DateTimeOffset.Parse(last, System.Globalization.CultureInfo.InvariantCulture), timer.Last);
        Assert.Equal(next is null ? null : DateTimeOffset.Parse(next, System.Globalization.CultureInfo.InvariantCulture), timer.Next);
        Assert.Equal(pastDue, timer.IsPastDue);
        AssertEnvelope(envelope, "recorded");
    }

    [Fact]
    public async Task Timer_Heuristics_RunsOverTheDatabase_AndAnswersWithItsLog()
    {
        var (status, envelope) = await InvokeAsync("heuristics", "timer-null-status.json", "inv-a");

        Assert.Equal(HttpStatusCode.OK, status);
        AssertEnvelope(envelope, "heuristics: 0 insight(s) recorded, 0 resolved, 0 IP(s) blocked; 0 series checked");
    }

    [Fact]
    public async Task Http_NonForwardedEnvelope_IsServedByTheApiAndReturnedAsRes()
    {
        var (status, envelope) = await InvokeAsync("http", "http-envelope.json", "inv-h");

        Assert.Equal(HttpStatusCode.OK, status);
        var res = envelope.RootElement.GetProperty("Outputs").GetProperty("res");
        Assert.Equal(200, res.GetProperty("statusCode").GetInt32());
        Assert.StartsWith("application/json", res.GetProperty("headers").GetProperty("Content-Type").GetString(), StringComparison.Ordinal);
        using var body = JsonDocument.Parse(res.GetProperty("body").GetString()!);
        Assert.Equal("sentinel-functions", body.RootElement.GetProperty("name").GetString());
        Assert.Equal("functions", body.RootElement.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task UnknownFunction_Is404Problem()
    {
        using var response = await _host.Client.PostAsync(new Uri("/no-such-function", UriKind.Relative), Json("{}"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("urn:problem:sentinel:function-not-found", problem.RootElement.GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("[1,2,3]")]
    [InlineData("""{"Metadata":{}}""")]
    [InlineData("""{"Data":{"events":"not an array"},"Metadata":{}}""")]
    [InlineData("""{"Data":{},"Metadata":{}}""")]
    public async Task MalformedEnvelope_IsRecordedAndAcknowledged(string body)
    {
        using var response = await _host.Client.PostAsync(new Uri("/ingest-metrics", UriKind.Relative), Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var envelope = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith("rejected: ", envelope.RootElement.GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
        Assert.Empty(_ingest.Calls);
        Assert.Equal(1, await _host.Database!.ScalarAsync("select count(*) from rejected_events where function = 'ingest-metrics'"));
    }

    [Fact]
    public async Task MalformedEnvelope_CannotBeRecorded_AsksForRetryWithEnvelope()
    {
        // PostgreSQL unreachable: the rejected payload cannot be recorded, so it must not be acknowledged either.
        await using var host = await SentinelTestHost.StartAsync(HostMode.Functions, database: false);

        using var response = await host.Client.PostAsync(new Uri("/ingest-metrics", UriKind.Relative), Json("not json at all"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var envelope = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith("transient failure, retry requested: ", envelope.RootElement.GetProperty("Logs")[0].GetString(), StringComparison.Ordinal);
    }

    internal static void AssertEnvelope(JsonDocument envelope, string expectedLog)
    {
        var root = envelope.RootElement;
        Assert.Equal(JsonValueKind.Object, root.GetProperty("Outputs").ValueKind);
        Assert.Equal(expectedLog, root.GetProperty("Logs")[0].GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("ReturnValue").ValueKind);
    }

    private async Task<(HttpStatusCode, JsonDocument)> InvokeAsync(string function, string payload, string invocationId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/" + function, UriKind.Relative))
        {
            Content = new ByteArrayContent(Payloads.Read(payload)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add("X-Azure-Functions-InvocationId", invocationId);
        using var response = await _host.Client.SendAsync(request);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.False(string.IsNullOrEmpty(text), "the host hangs on an empty body: never send one");
        return (response.StatusCode, JsonDocument.Parse(text));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
