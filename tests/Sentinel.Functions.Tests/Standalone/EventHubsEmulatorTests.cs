using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Contracts.EventHubs;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;

namespace Sentinel.Functions.Tests.Standalone;

/// <summary>The standalone host's Event Hubs REST send API over real Kestrel on loopback.</summary>
public sealed class EventHubsEmulatorTests : IAsyncLifetime
{
    private const string BatchType = "application/vnd.microsoft.servicebus.json";
    private static DateTimeOffset Now => TimeProvider.System.GetUtcNow();
    private readonly RecordingEventHubFunction _ingest = new();
    private SentinelTestHost _host = null!;

    public async Task InitializeAsync() => _host = await SentinelTestHost.StartAsync(HostMode.Standalone,
        services => services.AddKeyedSingleton<IEventHubFunction>(FunctionRegistry.IngestMetrics, _ingest),
        new Dictionary<string, string> { ["Standalone:MaxEventsPerInvocation"] = "3" },
        database: false);

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task SignedBatch_Is201AndTheFunctionReceivedExactlyThoseEvents()
    {
        var bodies = Enumerable.Range(0, 5).Select(i => $$"""{"agent":"a1","seq":{{i}}}""").ToArray();
        var batch = JsonSerializer.Serialize(bodies.Select(b => new Dictionary<string, object>
        {
            ["Body"] = b,
            ["UserProperties"] = new Dictionary<string, object> { ["sig"] = "s-" + b.Length, ["kv"] = 2 },
            ["BrokerProperties"] = new Dictionary<string, object> { ["PartitionKey"] = "agent-1" },
        }));

        using var response = await SendAsync("/agent-metrics/messages", batch, BatchType, Sas());

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        // MaxEventsPerInvocation 3: two invocations, in order, on one partition, as the host's partition processor would.
        Assert.Equal(2, _ingest.Calls.Count);
        Assert.Equal(bodies, _ingest.Events.Select(e => e.Body));
        Assert.Equal([0L, 1, 2, 3, 4], _ingest.Events.Select(e => e.SequenceNumber!.Value));
        Assert.All(_ingest.Events, e => Assert.Equal("agent-1", e.PartitionKey));
        Assert.Equal("2", _ingest.Events[0].Property("kv"));
        Assert.Single(_ingest.Calls.Select(c => c.Batch.Partition).Distinct());
        Assert.Equal("agent-metrics", _ingest.Calls.First().Batch.Partition.EventHubName);
    }

    [Fact]
    public async Task SingleAtomEntry_CarriesBrokerPropertiesAndCustomHeaders()
    {
        using var request = Request("/agent-metrics/messages", """{"agent":"a2"}""", "application/atom+xml;type=entry;charset=utf-8", Sas());
        request.Headers.Add("BrokerProperties", """{"PartitionKey":"agent-2"}""");
        request.Headers.Add("Sig", "abc123");
        using var response = await _host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var e = Assert.Single(_ingest.Events);
        Assert.Equal("""{"agent":"a2"}""", e.Body);
        Assert.Equal("agent-2", e.PartitionKey);
        Assert.Equal("abc123", e.Property("Sig"));
        Assert.NotNull(e.EnqueuedTime);
    }

    [Fact]
    public async Task SameKey_AlwaysSamePartition_PartitionPathHonoured()
    {
        for (var i = 0; i < 3; i++)
            (await SendAsync("/agent-metrics/publishers/agent-9/messages", $$"""[{"Body":"{\"n\":{{i}}}"}]""", BatchType, Sas())).Dispose();
        using var explicitPartition = await SendAsync("/agent-metrics/partitions/2/messages", """[{"Body":"{}"}]""", BatchType, Sas());

        Assert.Equal(HttpStatusCode.Created, explicitPartition.StatusCode);
        var partitions = _ingest.Calls.Select(c => c.Batch.Partition.PartitionId).ToArray();
        Assert.Single(partitions.Take(3).Distinct());
        Assert.Equal("2", partitions[3]);
        Assert.Equal([0L, 1, 2], _ingest.Calls.Take(3).Select(c => c.Batch.Events[0].SequenceNumber!.Value));
    }

    [Fact]
    public async Task NamespaceRootToken_IsAccepted()
    {
        var token = SharedAccessSignature.Create(_host.BaseAddress.ToString(), "agent-send", SentinelTestHost.EventHubKey, Now.AddMinutes(5));

        using var response = await SendAsync("/agent-metrics/messages", """[{"Body":"{}"}]""", BatchType, token);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    public static TheoryData<string, string, string, Func<Uri, string>, HttpStatusCode, string> Refusals => new()
    {
        { "bad signature", "/agent-metrics/messages", BatchType, u => SharedAccessSignature.Create(u + "agent-metrics", "agent-send", "wrong-key-wrong-key", Now.AddMinutes(5)), HttpStatusCode.Unauthorized, "unauthorized" },
        { "expired", "/agent-metrics/messages", BatchType, u => SharedAccessSignature.Create(u + "agent-metrics", "agent-send", SentinelTestHost.EventHubKey, Now.AddMinutes(-1)), HttpStatusCode.Unauthorized, "unauthorized" },
        { "unknown key name", "/agent-metrics/messages", BatchType, u => SharedAccessSignature.Create(u + "agent-metrics", "root", SentinelTestHost.EventHubKey, Now.AddMinutes(5)), HttpStatusCode.Unauthorized, "unauthorized" },
        { "token for another hub", "/agent-metrics/messages", BatchType, u => SharedAccessSignature.Create(u + "other-hub", "agent-send", SentinelTestHost.EventHubKey, Now.AddMinutes(5)), HttpStatusCode.Unauthorized, "unauthorized" },
        { "bearer token", "/agent-metrics/messages", BatchType, _ => "Bearer eyJhbGciOiJub25lIn0.e30.", HttpStatusCode.Unauthorized, "unauthorized" },
        { "no token", "/agent-metrics/messages", BatchType, _ => "", HttpStatusCode.Unauthorized, "unauthorized" },
        { "wrong hub", "/other-hub/messages", BatchType, u => SharedAccessSignature.Create(u + "other-hub", "agent-send", SentinelTestHost.EventHubKey, Now.AddMinutes(5)), HttpStatusCode.NotFound, "entity-not-found" },
        { "wrong content type", "/agent-metrics/messages", "text/plain", u => Sas(u), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type" },
        { "partition out of range", "/agent-metrics/partitions/99/messages", BatchType, u => Sas(u), HttpStatusCode.NotFound, "entity-not-found" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Refused_IsProblemAndNothingDispatched(string why, string path, string contentType, Func<Uri, string> token, HttpStatusCode expected, string slug)
    {
        using var response = await SendAsync(path, """[{"Body":"{}"}]""", contentType, token(_host.BaseAddress));

        Assert.True(expected == response.StatusCode, why);
        await AssertProblemAsync(response, slug);
        Assert.Empty(_ingest.Calls);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("""[{"NoBody":1}]""")]
    [InlineData("""[{"Body":"{}","UserProperties":"x"}]""")]
    [InlineData("""[{"Body":"%%%","IsBodyBase64":true}]""")]
    [InlineData("""[{"Body":"{}","BrokerProperties":{"PartitionKey":"a"}},{"Body":"{}","BrokerProperties":{"PartitionKey":"b"}}]""")]
    public async Task MalformedBatch_Is400AndNothingDispatched(string batch)
    {
        using var response = await SendAsync("/agent-metrics/messages", batch, BatchType, Sas());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertProblemAsync(response, "bad-request");
        Assert.Empty(_ingest.Calls);
    }

    [Fact]
    public async Task Oversize_Is413AndNothingDispatched()
    {
        var body = "[{\"Body\":\"" + new string('x', 1024 * 1024) + "\"}]";

        using var response = await SendAsync("/agent-metrics/messages", body, BatchType, Sas());

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertProblemAsync(response, "payload-too-large");
        Assert.Empty(_ingest.Calls);
    }

    [Fact]
    public async Task OversizeChunkedWithoutLength_Is413()
    {
        using var request = Request("/agent-metrics/messages", "", BatchType, Sas());
        request.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("[{\"Body\":\"" + new string('y', 1100 * 1024) + "\"}]")));
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(BatchType);
        request.Headers.TransferEncodingChunked = true;

        using var response = await _host.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(_ingest.Calls);
    }

    [Fact]
    public async Task IngestFails_Is503WithRetryAfter_NotAcknowledged()
    {
        _ingest.Fail = true;

        using var response = await SendAsync("/agent-metrics/messages", """[{"Body":"{}"}]""", BatchType, Sas());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(4), response.Headers.RetryAfter?.Delta);
        await AssertProblemAsync(response, "server-busy");
    }

    [Fact]
    public async Task InvocationEndpoints_AreNotExposedInStandalone()
    {
        using var response = await _host.Client.PostAsync(new Uri("/ingest-metrics", UriKind.Relative),
            new ByteArrayContent(Payloads.Read("eventhub-batch-string.json")));

        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(_ingest.Calls);
    }

    private string Sas() => Sas(_host.BaseAddress);

    private static string Sas(Uri baseAddress) =>
        SharedAccessSignature.Create(baseAddress + "agent-metrics", "agent-send", SentinelTestHost.EventHubKey, Now.AddMinutes(5));

    private static HttpRequestMessage Request(string path, string body, string contentType, string authorization)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative)) { Content = new StringContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (authorization.Length > 0)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return request;
    }

    private async Task<HttpResponseMessage> SendAsync(string path, string body, string contentType, string authorization)
    {
        using var request = Request(path, body, contentType, authorization);
        return await _host.Client.SendAsync(request);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, string slug)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("urn:problem:sentinel:" + slug, problem.RootElement.GetProperty("type").GetString());
        Assert.Equal((int)response.StatusCode, problem.RootElement.GetProperty("status").GetInt32());
    }
}
