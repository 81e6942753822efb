using System.Globalization;
using System.Text.Json;

namespace Sentinel.Functions.Functions;

/// <summary>Writes <c>{dir}/{name}/function.json</c> for every registered function: the files are generated, never hand-edited.</summary>
internal static class FunctionMetadataWriter
{
    public static IReadOnlyList<string> WriteAll(IReadOnlyList<FunctionDefinition> functions, string directory)
    {
        var written = new List<string>();
        foreach (var f in functions)
        {
            var folder = Path.Combine(directory, f.Name);
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, "function.json");
            File.WriteAllBytes(path, ToJson(f));
            written.Add(path);
        }

        return written;
    }

    public static byte[] ToJson(FunctionDefinition function)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("bindings");
            switch (function.Trigger)
            {
                case HttpTrigger http:
                    w.WriteStartObject();
                    w.WriteString("type", "httpTrigger");
                    w.WriteString("direction", "in");
                    w.WriteString("name", http.BindingName);
                    w.WriteString("authLevel", http.AuthLevel);
                    if (http.Methods is { } methods)
                    {
                        w.WriteStartArray("methods");
                        foreach (var m in methods)
                            w.WriteStringValue(m);
                        w.WriteEndArray();
                    }

                    w.WriteString("route", http.Route);
                    w.WriteEndObject();
                    // Exactly one http output and nothing else: the condition for forwarding/proxying.
                    w.WriteStartObject();
                    w.WriteString("type", "http");
                    w.WriteString("direction", "out");
                    w.WriteString("name", "res");
                    w.WriteEndObject();
                    break;
                case EventHubTrigger eh:
                    w.WriteStartObject();
                    w.WriteString("type", "eventHubTrigger");
                    w.WriteString("direction", "in");
                    w.WriteString("name", eh.BindingName);
                    w.WriteString("eventHubName", eh.EventHubName);
                    w.WriteString("connection", eh.Connection);
                    w.WriteString("consumerGroup", eh.ConsumerGroup);
                    w.WriteString("cardinality", eh.Cardinality);
                    w.WriteString("dataType", eh.DataType);
                    w.WriteEndObject();
                    break;
                case TimerTrigger timer:
                    w.WriteStartObject();
                    w.WriteString("type", "timerTrigger");
                    w.WriteString("direction", "in");
                    w.WriteString("name", timer.BindingName);
                    w.WriteString("schedule", timer.Schedule);
                    w.WriteBoolean("runOnStartup", timer.RunOnStartup);
                    w.WriteBoolean("useMonitor", timer.UseMonitor);
                    w.WriteEndObject();
                    break;
                default:
                    throw new InvalidOperationException($"Unknown trigger {function.Trigger.GetType().Name}.");
            }

            w.WriteEndArray();
            switch (function.Retry)
            {
                case ExponentialBackoffRetry r:
                    w.WriteStartObject("retry");
                    w.WriteString("strategy", "exponentialBackoff");
                    w.WriteNumber("maxRetryCount", r.MaxRetryCount);
                    w.WriteString("minimumInterval", Interval(r.MinimumInterval));
                    w.WriteString("maximumInterval", Interval(r.MaximumInterval));
                    w.WriteEndObject();
                    break;
                case FixedDelayRetry r:
                    w.WriteStartObject("retry");
                    w.WriteString("strategy", "fixedDelay");
                    w.WriteNumber("maxRetryCount", r.MaxRetryCount);
                    w.WriteString("delayInterval", Interval(r.DelayInterval));
                    w.WriteEndObject();
                    break;
                default:
                    break;
            }

            w.WriteEndObject();
        }

        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    private static string Interval(TimeSpan t) => t.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture);
}
