using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Sentinel.Contracts.EventHubs;
using Sentinel.Core.Scheduling;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Standalone;

/// <summary>
/// The Event Hubs REST send API (<c>POST /{hub}/messages</c>, also <c>/partitions/{id}/messages</c> and
/// <c>/publishers/{id}/messages</c>) for the standalone host: checks the SAS token with the service's algorithm, takes a
/// single <c>application/atom+xml</c> entry or an <c>application/vnd.microsoft.servicebus.json</c> batch up to 1 MB, turns
/// it into the invocation the Functions host would send, dispatches it to the Event Hubs function, and answers
/// 201 only after that invocation succeeded (shared/research/azure-rest-protocols.md §A).
/// One invocation at a time per partition, as the host's partition processor does.
/// </summary>
internal sealed partial class EventHubsEmulator
{
    /// <summary>The Standard tier's limit for one event or one whole batch.</summary>
    public const int MaxPublicationBytes = 1024 * 1024;
    public const string BatchContentType = "application/vnd.microsoft.servicebus.json";
    public const string SingleContentType = "application/atom+xml";

    private static readonly HashSet<string> StandardHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "Content-Type", "Content-Length", "Host", "BrokerProperties", "User-Agent", "Accept", "Accept-Encoding",
        "Connection", "Expect", "traceparent", "tracestate", "x-ms-retrypolicy", "x-ms-client-request-id", "Transfer-Encoding",
    };

    private readonly InvocationDispatcher _dispatcher;
    private readonly TimeProvider _time;
    private readonly ILogger<EventHubsEmulator> _logger;
    private readonly StandaloneOptions _options;
    private readonly FunctionDefinition _function;
    private readonly EventHubTrigger _trigger;
    private readonly string _hub;
    private readonly string _consumerGroup;
    private readonly Dictionary<string, string> _keys;
    private readonly Partition[] _partitions;
    private int _roundRobin;

    public EventHubsEmulator(InvocationDispatcher dispatcher, IOptions<StandaloneOptions> options, IConfiguration configuration, TimeProvider time, ILogger<EventHubsEmulator> logger)
    {
        _dispatcher = dispatcher;
        _time = time;
        _logger = logger;
        _options = options.Value;
        _function = FunctionRegistry.Find(FunctionRegistry.IngestMetrics)!;
        _trigger = (EventHubTrigger)_function.Trigger;
        _hub = AppSettingExpression.Resolve(_trigger.EventHubName, k => configuration[k]);
        _consumerGroup = AppSettingExpression.Resolve(_trigger.ConsumerGroup, k => configuration[k]);
        _keys = new Dictionary<string, string>(StringComparer.Ordinal) { [_options.EventHubKeyName] = _options.EventHubKey ?? "" };
        _partitions = new Partition[Math.Max(1, _options.Partitions)];
        for (var i = 0; i < _partitions.Length; i++)
            _partitions[i] = new Partition();
    }

    public async Task<IResult> SendAsync(HttpContext http, string hub, string? partitionId, string? publisher, CancellationToken cancellationToken)
    {
        var request = http.Request;
        if (!string.Equals(hub, _hub, StringComparison.OrdinalIgnoreCase))
            return Problems.Result(404, "entity-not-found", "No such event hub", $"This host serves the event hub '{_hub}'.");

        var entity = new Uri($"{request.Scheme}://{request.Host.Value}/{hub}");
        var authorization = request.Headers.Authorization.ToString();
        var validation = SharedAccessSignature.Validate(authorization, entity, _keys, _time.GetUtcNow());
        if (validation != SasValidation.Valid)
        {
            LogUnauthorized(_logger, validation, http.Connection.RemoteIpAddress?.ToString());
            return Problems.Result(401, "unauthorized", "Unauthorized", validation switch
            {
                SasValidation.Expired => "The SharedAccessSignature has expired (se is in the past).",
                SasValidation.Malformed when authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) =>
                    "The standalone host accepts SharedAccessSignature tokens only.",
                SasValidation.Malformed => "Send 'Authorization: SharedAccessSignature sr=…&sig=…&se=…&skn=…'.",
                SasValidation.WrongResource => "The token's resource (sr) does not cover this event hub.",
                _ => "The SharedAccessSignature is not valid for this event hub.",
            });
        }

        var mediaType = MediaTypeHeaderValue.TryParse(request.ContentType, out var ct) ? ct.MediaType : null;
        var isBatch = string.Equals(mediaType, BatchContentType, StringComparison.OrdinalIgnoreCase);
        if (!isBatch && !string.Equals(mediaType, SingleContentType, StringComparison.OrdinalIgnoreCase))
            return Problems.Result(415, "unsupported-media-type", "Unsupported content type",
                $"Send one event as '{SingleContentType};type=entry;charset=utf-8' or a batch as '{BatchContentType}'.");

        if (request.ContentLength > MaxPublicationBytes)
            return TooLarge();
        var body = await RequestBodies.ReadBoundedAsync(request.Body, MaxPublicationBytes, 0, cancellationToken);
        if (body is null)
            return TooLarge();

        List<IncomingEvent> events;
        try
        {
            events = isBatch ? ParseBatch(body) : [ParseSingle(request, body)];
        }
        catch (FormatException ex)
        {
            return Problems.Result(400, "bad-request", "Malformed event", ex.Message);
        }

        var partitionKey = publisher ?? events[0].PartitionKey;
        foreach (var e in events)
        {
            if (!string.Equals(e.PartitionKey ?? partitionKey, partitionKey, StringComparison.Ordinal))
                return Problems.Result(400, "bad-request", "Mixed partition keys", "All events of one batch must share a partition key.");
        }

        int index;
        if (partitionId is not null)
        {
            if (!int.TryParse(partitionId, NumberStyles.None, CultureInfo.InvariantCulture, out index) || index >= _partitions.Length)
                return Problems.Result(404, "entity-not-found", "No such partition", $"Partitions are 0 to {_partitions.Length - 1}.");
        }
        else
        {
            index = partitionKey is null
                ? (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)_partitions.Length)
                : (int)(Fnv1a(partitionKey) % (uint)_partitions.Length);
        }

        return await DispatchAsync(index, partitionKey, events, request.Host.Value ?? "localhost", cancellationToken)
            ? Results.StatusCode(StatusCodes.Status201Created)
            : Problems.Result(503, "server-busy", "Ingest is unavailable",
                "The events were not stored; retry after the interval in Retry-After.", retryAfterSeconds: 4);
    }

    private async Task<bool> DispatchAsync(int index, string? partitionKey, List<IncomingEvent> events, string host, CancellationToken cancellationToken)
    {
        var partition = _partitions[index];
        await partition.Gate.WaitAsync(cancellationToken);
        try
        {
            var now = _time.GetUtcNow();
            var accepted = new List<AcceptedEvent>(events.Count);
            foreach (var e in events)
            {
                accepted.Add(new AcceptedEvent(e.Body, partition.NextSequence++, partition.NextOffset, now, e.PartitionKey ?? partitionKey, e.Properties));
                partition.NextOffset += Encoding.UTF8.GetByteCount(e.Body) + 1;
            }

            for (var start = 0; start < accepted.Count; start += _options.MaxEventsPerInvocation)
            {
                var chunk = accepted.GetRange(start, Math.Min(_options.MaxEventsPerInvocation, accepted.Count - start));
                var payload = HostPayloads.EventHubBatch(_function.Name, _trigger.BindingName, host, _hub, _consumerGroup,
                    index.ToString(CultureInfo.InvariantCulture), chunk, _time.GetUtcNow());
                var outcome = await _dispatcher.DispatchAsync(_function, payload, Guid.NewGuid().ToString(), cancellationToken);
                if (outcome.StatusCode is < 200 or > 299)
                {
                    LogDispatchFailed(_logger, index, outcome.StatusCode);
                    return false;
                }
            }

            return true;
        }
        finally
        {
            partition.Gate.Release();
        }
    }

    private static IResult TooLarge() => Problems.Result(413, "payload-too-large", "Publication too large",
        $"One event or one batch may be at most {MaxPublicationBytes} bytes; split the batch.");

    private static IncomingEvent ParseSingle(HttpRequest request, byte[] body)
    {
        string? partitionKey = null;
        var broker = request.Headers["BrokerProperties"].ToString();
        if (broker.Length > 0)
            partitionKey = ReadPartitionKey(broker);
        var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var (name, value) in request.Headers)
        {
            if (!StandardHeaders.Contains(name))
                properties[name] = JsonSerializer.SerializeToElement(value.ToString(), EmulatorJsonContext.Default.String);
        }

        return new IncomingEvent(Utf8(body), partitionKey, properties);
    }

    private static List<IncomingEvent> ParseBatch(byte[] body)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"The batch is not JSON: {ex.Message}");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new FormatException("A batch is a JSON array of {\"Body\": \"…\"} objects.");
            var list = new List<IncomingEvent>();
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("Body", out var b) || b.ValueKind != JsonValueKind.String)
                    throw new FormatException($"Event {list.Count} has no string 'Body'.");
                var text = b.GetString()!;
                if (item.TryGetProperty("IsBodyBase64", out var isBase64) && isBase64.ValueKind == JsonValueKind.True)
                {
                    try
                    {
                        text = Utf8(Convert.FromBase64String(text));
                    }
                    catch (FormatException)
                    {
                        throw new FormatException($"Event {list.Count} says IsBodyBase64 but its Body is not base64.");
                    }
                }

                var properties = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                if (item.TryGetProperty("UserProperties", out var up))
                {
                    if (up.ValueKind != JsonValueKind.Object)
                        throw new FormatException($"Event {list.Count}: UserProperties must be an object.");
                    foreach (var p in up.EnumerateObject())
                        properties[p.Name] = p.Value.Clone();
                }

                string? partitionKey = null;
                if (item.TryGetProperty("BrokerProperties", out var bp) && bp.ValueKind == JsonValueKind.Object
                    && bp.TryGetProperty("PartitionKey", out var pk) && pk.ValueKind == JsonValueKind.String)
                    partitionKey = pk.GetString();
                list.Add(new IncomingEvent(text, partitionKey, properties));
            }

            if (list.Count == 0)
                throw new FormatException("The batch is empty.");
            return list;
        }
    }

    private static string? ReadPartitionKey(string brokerProperties)
    {
        try
        {
            using var doc = JsonDocument.Parse(brokerProperties);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("PartitionKey", out var pk) && pk.ValueKind == JsonValueKind.String
                ? pk.GetString()
                : null;
        }
        catch (JsonException)
        {
            throw new FormatException("The BrokerProperties header is not a JSON object.");
        }
    }

    private static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private static uint Fnv1a(string key)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(key))
            hash = (hash ^ b) * 16777619u;
        return hash;
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Event Hubs send refused: {Reason} from {RemoteIp}")]
    private static partial void LogUnauthorized(ILogger logger, SasValidation reason, string? remoteIp);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Ingest of a batch on partition {Partition} failed with {Status}; the sender will retry")]
    private static partial void LogDispatchFailed(ILogger logger, int partition, int status);

    private sealed record IncomingEvent(string Body, string? PartitionKey, IReadOnlyDictionary<string, JsonElement> Properties);

    private sealed class Partition
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public long NextSequence { get; set; }
        public long NextOffset { get; set; }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class EmulatorJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
