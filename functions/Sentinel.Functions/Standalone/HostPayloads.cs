using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Sentinel.Functions.Standalone;

/// <summary>One event as the standalone Event Hubs endpoint accepted it.</summary>
internal sealed record AcceptedEvent(string Body, long SequenceNumber, long Offset, DateTimeOffset EnqueuedTime, string? PartitionKey, IReadOnlyDictionary<string, JsonElement> Properties);

/// <summary>
/// Builds invocation envelopes exactly as the Functions host would, so the standalone host exercises the same parsing
/// as Azure. The host converts each value with <c>JObject.FromObject</c> or, failing that, <c>JsonConvert.SerializeObject</c>:
/// arrays and scalars become strings holding JSON, objects stay objects, and <c>DateTime</c> values lose their
/// <c>Z</c> (protocol notes §2.0, §2.b, §2.c).
/// </summary>
internal static class HostPayloads
{
    // TimerInfo's ScheduleStatus times keep their offset; EventData times are DateTime of Kind Unspecified, written
    // without a zone; sys.UtcNow carries its Z.
    private const string OffsetTime = "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz";
    private const string ZonelessTime = "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF";
    private const string UtcTime = "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'";

    /// <summary>An Event Hubs <c>cardinality: many</c>, <c>dataType: string</c> invocation.</summary>
    public static byte[] EventHubBatch(string functionName, string bindingName, string fullyQualifiedNamespace, string hub, string consumerGroup, string partitionId, IReadOnlyList<AcceptedEvent> events, DateTimeOffset utcNow)
    {
        return Write(w =>
        {
            w.WriteStartObject("Data");
            w.WriteString(bindingName, JsonArrayText(events, (a, e) => a.WriteStringValue(e.Body)));
            w.WriteEndObject();

            w.WriteStartObject("Metadata");
            foreach (var name in (ReadOnlySpan<string>)["TriggerPartitionContext", "PartitionContext"])
            {
                w.WriteStartObject(name);
                if (name == "TriggerPartitionContext")
                    w.WriteBoolean("IsCheckpointingAfterInvocation", true);
                w.WriteString("FullyQualifiedNamespace", fullyQualifiedNamespace);
                w.WriteString("EventHubName", hub);
                w.WriteString("ConsumerGroup", consumerGroup);
                w.WriteString("PartitionId", partitionId);
                w.WriteEndObject();
            }

            w.WriteString("PartitionKeyArray", JsonArrayText(events, (a, e) => { if (e.PartitionKey is null) a.WriteNullValue(); else a.WriteStringValue(e.PartitionKey); }));
            w.WriteString("OffsetArray", JsonArrayText(events, (a, e) => a.WriteStringValue(e.Offset.ToString(CultureInfo.InvariantCulture))));
            w.WriteString("OffsetStringArray", JsonArrayText(events, (a, e) => a.WriteStringValue(e.Offset.ToString(CultureInfo.InvariantCulture))));
            w.WriteString("SequenceNumberArray", JsonArrayText(events, (a, e) => a.WriteNumberValue(e.SequenceNumber)));
            w.WriteString("EnqueuedTimeUtcArray", JsonArrayText(events, (a, e) => a.WriteStringValue(HostTime(e.EnqueuedTime))));
            w.WriteString("PropertiesArray", JsonArrayText(events, (a, e) =>
            {
                a.WriteStartObject();
                foreach (var (k, v) in e.Properties)
                {
                    a.WritePropertyName(k);
                    v.WriteTo(a);
                }

                a.WriteEndObject();
            }));
            w.WriteString("SystemPropertiesArray", JsonArrayText(events, (a, e) =>
            {
                a.WriteStartObject();
                a.WriteNumber("SequenceNumber", e.SequenceNumber);
                a.WriteNumber("Offset", e.Offset);
                a.WriteString("OffsetString", e.Offset.ToString(CultureInfo.InvariantCulture));
                if (e.PartitionKey is null)
                    a.WriteNull("PartitionKey");
                else
                    a.WriteString("PartitionKey", e.PartitionKey);
                a.WriteString("EnqueuedTimeUtc", HostTime(e.EnqueuedTime));
                a.WriteEndObject();
            }));
            WriteSys(w, functionName, utcNow);
            w.WriteEndObject();
        });
    }

    /// <summary>A timer invocation: TimerInfo as an object; ScheduleStatus null before the first run.</summary>
    public static byte[] Timer(string functionName, string bindingName, DateTimeOffset? last, DateTimeOffset next, bool isPastDue, DateTimeOffset utcNow)
    {
        return Write(w =>
        {
            w.WriteStartObject("Data");
            w.WriteStartObject(bindingName);
            w.WriteStartObject("Schedule");
            w.WriteBoolean("AdjustForDST", true);
            w.WriteEndObject();
            if (last is null)
            {
                w.WriteNull("ScheduleStatus");
            }
            else
            {
                w.WriteStartObject("ScheduleStatus");
                w.WriteString("Last", last.Value.ToString(OffsetTime, CultureInfo.InvariantCulture));
                w.WriteString("Next", next.ToString(OffsetTime, CultureInfo.InvariantCulture));
                w.WriteString("LastUpdated", last.Value.ToString(OffsetTime, CultureInfo.InvariantCulture));
                w.WriteEndObject();
            }

            w.WriteBoolean("IsPastDue", isPastDue);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteStartObject("Metadata");
            WriteSys(w, functionName, utcNow);
            w.WriteEndObject();
        });
    }

    private static string HostTime(DateTimeOffset t) => t.UtcDateTime.ToString(ZonelessTime, CultureInfo.InvariantCulture);

    private static void WriteSys(Utf8JsonWriter w, string functionName, DateTimeOffset utcNow)
    {
        w.WriteStartObject("sys");
        w.WriteString("MethodName", functionName);
        w.WriteString("UtcNow", utcNow.UtcDateTime.ToString(UtcTime, CultureInfo.InvariantCulture));
        w.WriteString("RandGuid", Guid.NewGuid().ToString());
        w.WriteEndObject();
    }

    private static string JsonArrayText(IReadOnlyList<AcceptedEvent> events, Action<Utf8JsonWriter, AcceptedEvent> item)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var a = new Utf8JsonWriter(buffer))
        {
            a.WriteStartArray();
            foreach (var e in events)
                item(a, e);
            a.WriteEndArray();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
