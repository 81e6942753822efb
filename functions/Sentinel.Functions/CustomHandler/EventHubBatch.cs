using System.Text.Json;

namespace Sentinel.Functions.CustomHandler;

/// <summary>One event of a batch, with the metadata the host sent for it (each array in Metadata is index-aligned with the events).</summary>
/// <param name="BodyUtf8">The event body as UTF-8 (for <c>dataType: string</c>, the string itself, unescaped): the bytes a
/// sender that wrote UTF-8 signed, read without an intermediate string.</param>
/// <param name="SequenceNumber">The partition sequence number.</param>
/// <param name="Offset">The partition offset, as text.</param>
/// <param name="EnqueuedTime">When the service accepted the event (UTC).</param>
/// <param name="PartitionKey">The partition key the sender set.</param>
/// <param name="Properties">The event's application (user) properties; an object, or undefined.</param>
internal sealed record EventHubEvent(byte[] BodyUtf8, long? SequenceNumber, string? Offset, DateTimeOffset? EnqueuedTime, string? PartitionKey, JsonElement Properties)
{
    private string? _body;

    /// <summary>The body as text.</summary>
    public string Body => _body ??= System.Text.Encoding.UTF8.GetString(BodyUtf8);

    /// <summary>A user property as text, or null.</summary>
    public string? Property(string name) =>
        PayloadValue.TryGetProperty(Properties, name, out var v) ? PayloadValue.AsString(v) : null;
}

/// <summary>Where a batch came from.</summary>
internal sealed record EventHubPartition(string? FullyQualifiedNamespace, string? EventHubName, string? ConsumerGroup, string? PartitionId);

/// <summary>
/// A <c>cardinality: many</c>, <c>dataType: string</c> Event Hubs invocation: <c>Data.{binding}</c> is a string holding
/// a JSON array of strings, and Metadata carries <c>PartitionContext</c> and the index-aligned
/// <c>SequenceNumberArray</c>, <c>OffsetArray</c>, <c>EnqueuedTimeUtcArray</c>, <c>PartitionKeyArray</c>, <c>PropertiesArray</c>
/// and <c>SystemPropertiesArray</c>, each itself double-encoded (protocol notes §2.b).
/// </summary>
internal sealed record EventHubBatch(IReadOnlyList<EventHubEvent> Events, EventHubPartition Partition)
{
    /// <summary>Reads the batch; throws <see cref="InvocationPayloadException"/> when the events are missing or not an array.</summary>
    public static EventHubBatch Parse(InvocationRequest request, string bindingName)
    {
        if (!request.TryGetData(bindingName, out var events))
            throw new InvocationPayloadException($"Data has no '{bindingName}' entry.");
        if (events.ValueKind != JsonValueKind.Array)
            throw new InvocationPayloadException($"Data.{bindingName} is a {events.ValueKind}, not an array of events.");

        var sequence = MetadataArray(request, "SequenceNumberArray");
        var offsets = MetadataArray(request, "OffsetStringArray") ?? MetadataArray(request, "OffsetArray");
        var enqueued = MetadataArray(request, "EnqueuedTimeUtcArray");
        var keys = MetadataArray(request, "PartitionKeyArray");
        var properties = MetadataArray(request, "PropertiesArray");
        var system = MetadataArray(request, "SystemPropertiesArray");

        var list = new List<EventHubEvent>(events.GetArrayLength());
        var i = 0;
        foreach (var e in events.EnumerateArray())
        {
            // dataType string: each element is the body text. Without a dataType the host sends parsed objects; keep their JSON.
            var body = Utf8(e);
            var sys = At(system, i);
            list.Add(new EventHubEvent(
                body,
                PayloadValue.AsInt64(At(sequence, i)) ?? SystemLong(sys, "SequenceNumber"),
                PayloadValue.AsString(At(offsets, i)) ?? Text(sys, "OffsetString") ?? Text(sys, "Offset"),
                PayloadValue.AsTime(At(enqueued, i)) ?? (PayloadValue.TryGetProperty(sys, "EnqueuedTimeUtc", out var t) ? PayloadValue.AsTime(t) : null),
                PayloadValue.AsString(At(keys, i)) ?? Text(sys, "PartitionKey"),
                PayloadValue.Unwrap(At(properties, i))));
            i++;
        }

        return new EventHubBatch(list, ReadPartition(request));
    }

    /// <summary>A string element's unescaped UTF-8, or another element's raw JSON, without building a string.</summary>
    private static byte[] Utf8(JsonElement e)
    {
        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(e);
        if (e.ValueKind != JsonValueKind.String)
            return raw.ToArray();
        var reader = new Utf8JsonReader(raw);
        reader.Read();
        if (!reader.ValueIsEscaped)
            return reader.ValueSpan.ToArray();
        var buffer = new byte[reader.ValueSpan.Length];
        return buffer[..reader.CopyString(buffer)];
    }

    private static EventHubPartition ReadPartition(InvocationRequest request)
    {
        if (!request.TryGetMetadata("TriggerPartitionContext", out var ctx) && !request.TryGetMetadata("PartitionContext", out ctx))
            return new EventHubPartition(null, null, null, null);
        return new EventHubPartition(Text(ctx, "FullyQualifiedNamespace"), Text(ctx, "EventHubName"), Text(ctx, "ConsumerGroup"), Text(ctx, "PartitionId"));
    }

    private static JsonElement? MetadataArray(InvocationRequest request, string name) =>
        request.TryGetMetadata(name, out var v) && v.ValueKind == JsonValueKind.Array ? v : null;

    private static JsonElement At(JsonElement? array, int index) =>
        array is { } a && index < a.GetArrayLength() ? a[index] : default;

    private static string? Text(JsonElement obj, string name) =>
        PayloadValue.TryGetProperty(obj, name, out var v) ? PayloadValue.AsString(v) : null;

    private static long? SystemLong(JsonElement sys, string name) =>
        PayloadValue.TryGetProperty(sys, name, out var v) ? PayloadValue.AsInt64(v) : null;
}
