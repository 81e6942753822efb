using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sentinel.Functions.CustomHandler;

/// <summary>
/// What a function handler returns. <see cref="Succeeded"/> false asks the host to retry (non-2xx answer, which
/// the host treats as a failed invocation and feeds to the retry policy); true is an acknowledgement.
/// </summary>
internal sealed class InvocationResult
{
    private InvocationResult(bool succeeded) => Succeeded = succeeded;

    public bool Succeeded { get; }

    /// <summary>Lines the host logs under the function's category (App Insights traces).</summary>
    public List<string> Logs { get; } = [];

    /// <summary>Output binding values by binding name (case-sensitive: the host looks them up in a plain dictionary).</summary>
    public Dictionary<string, JsonNode?> Outputs { get; } = new(StringComparer.Ordinal);

    public JsonNode? ReturnValue { get; set; }

    public static InvocationResult Ok(params string[] logs)
    {
        var r = new InvocationResult(true);
        r.Logs.AddRange(logs);
        return r;
    }

    public static InvocationResult Retry(string reason)
    {
        var r = new InvocationResult(false);
        r.Logs.Add(reason);
        return r;
    }

    /// <summary>
    /// The response envelope, <c>{"Outputs":{…},"Logs":[…],"ReturnValue":…}</c>. Never empty: a 2xx with an empty body
    /// leaves the host's invocation hanging until functionTimeout (protocol notes §3).
    /// </summary>
    public byte[] ToEnvelope()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WritePropertyName("Outputs"u8);
            w.WriteStartObject();
            foreach (var (name, value) in Outputs)
            {
                w.WritePropertyName(name);
                if (value is null)
                    w.WriteNullValue();
                else
                    value.WriteTo(w);
            }

            w.WriteEndObject();
            w.WritePropertyName("Logs"u8);
            w.WriteStartArray();
            foreach (var line in Logs)
                w.WriteStringValue(line);
            w.WriteEndArray();
            w.WritePropertyName("ReturnValue"u8);
            if (ReturnValue is null)
                w.WriteNullValue();
            else
                ReturnValue.WriteTo(w);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>Who is being invoked, and on which attempt.</summary>
internal sealed record InvocationContext(string FunctionName, string InvocationId, int RetryCount);

/// <summary>A function that runs on Event Hubs batches.</summary>
internal interface IEventHubFunction
{
    Task<InvocationResult> RunAsync(EventHubBatch batch, InvocationContext context, CancellationToken cancellationToken);
}

/// <summary>A function that runs on a timer.</summary>
internal interface ITimerFunction
{
    Task<InvocationResult> RunAsync(TimerInvocation timer, InvocationContext context, CancellationToken cancellationToken);
}

/// <summary>A function invoked with an HTTP request inside the envelope (when the host does not forward it).</summary>
internal interface IHttpEnvelopeFunction
{
    Task<InvocationResult> RunAsync(InvocationRequest request, InvocationContext context, CancellationToken cancellationToken);
}
