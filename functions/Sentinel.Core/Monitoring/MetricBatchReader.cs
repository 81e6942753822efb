using System.Text.Json;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Core.Monitoring;

/// <summary>A sample whose series is not in the catalogue's cache yet: resolved (or created) before the batch is stored.</summary>
internal sealed record PendingSeries(int Index, SeriesKey Key, IReadOnlyDictionary<string, string>? Labels, string Identity);

/// <summary>A batch as ingest stores it: the header (its <see cref="MetricBatch.Samples"/> left empty), and per sample its
/// value and series id (0 until resolved), with the samples whose series must still be resolved.</summary>
internal sealed class ParsedBatch(MetricBatch header, double[] values, long[] ids, List<PendingSeries> pending)
{
    public MetricBatch Header { get; } = header;
    public double[] Values { get; } = values;
    public long[] Ids { get; } = ids;
    public List<PendingSeries> Pending { get; } = pending;
    public int Count => Values.Length;
}

/// <summary>
/// Reads a version-1 batch straight from the bytes that were verified, with the same rules as
/// <see cref="MetricRules.Validate"/>. A sample whose name and labels (as raw JSON) the series catalogue has seen before
/// costs a value and a cache lookup — no strings, no dictionary; only a series not seen yet is built into a
/// <see cref="MetricSample"/>, validated and queued for the catalogue. (At agent scale this is what keeps ingest near
/// the speed of COPY: nearly every sample belongs to a known series.)
/// </summary>
internal static class MetricBatchReader
{
    /// <summary>Reads a batch; returns a problem in words (prefixed like the ingest reasons) instead of throwing.</summary>
    public static ParsedBatch? Read(ReadOnlySpan<byte> json, SeriesCatalogue catalogue, out string? problem)
    {
        problem = null;
        try
        {
            return ReadCore(json, catalogue, out problem);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            problem = "malformed: " + ex.Message;
            return null;
        }
    }

    private static ParsedBatch? ReadCore(ReadOnlySpan<byte> json, SeriesCatalogue catalogue, out string? problem)
    {
        problem = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return Fail(out problem, "malformed: a batch is a JSON object");

        int version = 0, interval = 0;
        long seq = 0;
        string? agent = null, host = null;
        DateTimeOffset? time = null;
        Dictionary<string, string>? facts = null;
        int samplesStart = -1, samplesEnd = -1;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("v"u8)) { reader.Read(); version = reader.GetInt32(); }
            else if (reader.ValueTextEquals("agent"u8)) { reader.Read(); agent = reader.GetString(); }
            else if (reader.ValueTextEquals("seq"u8)) { reader.Read(); seq = reader.GetInt64(); }
            else if (reader.ValueTextEquals("host"u8)) { reader.Read(); host = reader.GetString(); }
            else if (reader.ValueTextEquals("time"u8)) { reader.Read(); time = reader.GetDateTimeOffset(); }
            else if (reader.ValueTextEquals("interval"u8)) { reader.Read(); interval = reader.GetInt32(); }
            else if (reader.ValueTextEquals("facts"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null)
                    facts = ReadStringMap(ref reader, "facts", MetricRules.MaxFacts + 1);
            }
            else if (reader.ValueTextEquals("samples"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartArray)
                    return Fail(out problem, "malformed: samples is an array");
                samplesStart = (int)reader.TokenStartIndex;
                reader.Skip();
                samplesEnd = (int)reader.BytesConsumed;
            }
            else
            {
                reader.Read();
                reader.Skip(); // a field a later version added
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            return Fail(out problem, "malformed: the batch object is incomplete or followed by more data");
        if (time is null || samplesStart < 0)
            return Fail(out problem, "malformed: time and samples are required");

        var slice = json[samplesStart..samplesEnd];
        var count = CountSamples(slice);
        if (MetricRules.ValidateHeader(version, agent, seq, host, interval, count, facts?.Count ?? 0) is { } header)
            return Fail(out problem, "invalid: " + header);

        var values = new double[count];
        var ids = new long[count];
        var pending = new List<PendingSeries>();
        var samples = new Utf8JsonReader(slice);
        samples.Read(); // [
        for (var i = 0; i < count; i++)
        {
            samples.Read();
            if (samples.TokenType != JsonTokenType.StartObject)
                return Fail(out problem, $"malformed: sample {i} is not an object");
            int nameStart = -1, nameEnd = -1, labelsStart = -1, labelsEnd = -1;
            double? value = null;
            while (samples.Read() && samples.TokenType == JsonTokenType.PropertyName)
            {
                if (samples.ValueTextEquals("name"u8))
                {
                    samples.Read();
                    if (samples.TokenType != JsonTokenType.String)
                        return Fail(out problem, $"invalid: sample {i}: name is a string");
                    nameStart = (int)samples.TokenStartIndex;
                    nameEnd = (int)samples.BytesConsumed;
                }
                else if (samples.ValueTextEquals("labels"u8))
                {
                    samples.Read();
                    if (samples.TokenType == JsonTokenType.Null)
                        continue;
                    if (samples.TokenType != JsonTokenType.StartObject)
                        return Fail(out problem, $"invalid: sample {i}: labels is an object");
                    labelsStart = (int)samples.TokenStartIndex;
                    samples.Skip();
                    labelsEnd = (int)samples.BytesConsumed;
                }
                else if (samples.ValueTextEquals("value"u8))
                {
                    samples.Read();
                    value = samples.GetDouble();
                }
                else
                {
                    samples.Read();
                    samples.Skip();
                }
            }

            if (nameStart < 0 || value is not { } v)
                return Fail(out problem, $"invalid: sample {i}: name and value are required");
            if (!double.IsFinite(v))
                return Fail(out problem, $"invalid: sample {i}: the value must be a finite number");
            values[i] = v;

            var rawName = slice[nameStart..nameEnd];
            var rawLabels = labelsStart < 0 ? [] : slice[labelsStart..labelsEnd];
            if (catalogue.TryGetByIdentity(agent!, rawName, rawLabels, out var id))
            {
                ids[i] = id;
                continue;
            }

            // Not seen: build it, check it as MetricRules would, and queue it for the catalogue.
            var nameReader = new Utf8JsonReader(rawName);
            nameReader.Read();
            var name = nameReader.GetString()!;
            Dictionary<string, string>? labels = null;
            if (labelsStart >= 0)
            {
                var labelReader = new Utf8JsonReader(rawLabels);
                labelReader.Read();
                labels = ReadStringMap(ref labelReader, "labels", MetricRules.MaxLabels + 1);
            }

            var sample = new MetricSample(name, labels, v);
            if (MetricRules.ValidateSample(sample, i) is { } sampleProblem)
                return Fail(out problem, "invalid: " + sampleProblem);
            pending.Add(new PendingSeries(i, SeriesKey.Of(agent!, sample), labels, SeriesCatalogue.Identity(agent!, rawName, rawLabels)));
        }

        return new ParsedBatch(new MetricBatch(version, agent!, seq, host!, time.Value, interval, [], facts), values, ids, pending);
    }

    private static int CountSamples(ReadOnlySpan<byte> array)
    {
        var reader = new Utf8JsonReader(array);
        reader.Read();
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            reader.Skip();
            if (++count > MetricRules.MaxSamples)
                break;
        }

        return count;
    }

    /// <summary>An object of string values; stops counting at <paramref name="max"/> (the caller's rule then refuses it).</summary>
    private static Dictionary<string, string> ReadStringMap(ref Utf8JsonReader reader, string what, int max)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"{what} is an object of strings.");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new JsonException($"{what}: '{key}' must be a string.");
            if (map.Count < max)
                map[key] = reader.GetString()!;
        }

        return map;
    }

    private static ParsedBatch? Fail(out string? problem, string text)
    {
        problem = text;
        return null;
    }
}
