using System.Text.Json;

namespace Sentinel.Functions.CustomHandler;

/// <summary>
/// The host's <c>{"Data": {...}, "Metadata": {...}}</c> envelope for a non-forwarded invocation (protocol notes §2.0).
/// Owns the parsed document; dispose it when the invocation is done.
/// </summary>
internal sealed class InvocationRequest : IDisposable
{
    private readonly JsonDocument _document;

    private InvocationRequest(JsonDocument document, JsonElement data, JsonElement metadata)
    {
        _document = document;
        Data = data;
        Metadata = metadata;
    }

    /// <summary>Trigger and input binding values, by binding name.</summary>
    public JsonElement Data { get; }

    /// <summary>Trigger metadata (binding data), by name; <c>sys</c>, <c>RetryContext</c> and trigger-specific keys.</summary>
    public JsonElement Metadata { get; }

    /// <summary>The retry attempt the host is on (0 on the first run).</summary>
    public int RetryCount =>
        PayloadValue.TryGetProperty(Metadata, "RetryContext", out var retry) && PayloadValue.TryGetProperty(retry, "RetryCount", out var n)
            ? (int)(PayloadValue.AsInt64(n) ?? 0)
            : 0;

    /// <summary>Parses an envelope; throws <see cref="InvocationPayloadException"/> when it is not one.</summary>
    public static InvocationRequest Parse(ReadOnlyMemory<byte> body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
        }
        catch (JsonException ex)
        {
            throw new InvocationPayloadException($"The invocation body is not JSON: {ex.Message}");
        }

        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new InvocationPayloadException("The invocation body is not a JSON object.");
        }

        PayloadValue.TryGetProperty(root, "Data", out var data);
        PayloadValue.TryGetProperty(root, "Metadata", out var metadata);
        if (data.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new InvocationPayloadException("The invocation body has no Data object.");
        }

        return new InvocationRequest(document, data, metadata);
    }

    /// <summary>The (unwrapped) value of a Data entry, by binding name.</summary>
    public bool TryGetData(string bindingName, out JsonElement value) => PayloadValue.TryGetProperty(Data, bindingName, out value);

    /// <summary>The (unwrapped) value of a Metadata entry.</summary>
    public bool TryGetMetadata(string name, out JsonElement value) => PayloadValue.TryGetProperty(Metadata, name, out value);

    public void Dispose() => _document.Dispose();
}

/// <summary>The invocation payload cannot be understood: retrying it would fail the same way, so it is recorded and acknowledged.</summary>
internal sealed class InvocationPayloadException(string message) : Exception(message);
