using System.Globalization;
using System.Text.Json;

namespace Sentinel.Functions.CustomHandler;

/// <summary>
/// Reads values the way the host writes them. The host converts every Data and Metadata value with
/// <c>JObject.FromObject</c> and, when that throws (strings, numbers, bools, arrays), with
/// <c>JsonConvert.SerializeObject</c>: so strings arrive double-encoded (<c>"\"hello\""</c>), numbers as strings
/// (<c>"1"</c>), arrays as a string holding JSON (<c>"[10,11]"</c>), and times without a zone. Both the encoded and the
/// raw form are accepted (shared/research/custom-handler-protocol.md §2.0, host ScriptInvocationContextExtensions).
/// </summary>
internal static class PayloadValue
{
    /// <summary>If <paramref name="value"/> is a string whose content is JSON, the parsed JSON; otherwise the value itself.</summary>
    public static JsonElement Unwrap(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
            return value;
        var text = value.GetString()!;
        if (!LooksLikeJson(text))
            return value;
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return value; // plain text that merely starts like JSON
        }
    }

    /// <summary>The named property of an object, matched case-insensitively (Newtonsoft matches that way), unwrapped.</summary>
    public static bool TryGetProperty(JsonElement obj, string name, out JsonElement value)
    {
        value = default;
        if (obj.ValueKind != JsonValueKind.Object)
            return false;
        if (obj.TryGetProperty(name, out value))
        {
            value = Unwrap(value);
            return true;
        }

        foreach (var p in obj.EnumerateObject())
        {
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = Unwrap(p.Value);
                return true;
            }
        }

        return false;
    }

    /// <summary>A string value, from a JSON string or the raw text of a number/bool; null for null or absent.</summary>
    public static string? AsString(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
        _ => null,
    };

    /// <summary>A whole number from a JSON number or a numeric string.</summary>
    public static long? AsInt64(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number when value.TryGetInt64(out var n) => n,
        JsonValueKind.String when long.TryParse(value.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) => n,
        _ => null,
    };

    /// <summary>A boolean from a JSON bool or the strings "true"/"false".</summary>
    public static bool? AsBoolean(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String when bool.TryParse(value.GetString(), out var b) => b,
        _ => null,
    };

    /// <summary>
    /// A time, read leniently: ISO with or without a zone (no zone = UTC, as the host drops the <c>Z</c> of UTC
    /// times), or the culture-formatted text <c>DateTime.Parse(value.ToString())</c> can produce. The
    /// <c>0001-01-01</c> placeholder of a first timer run reads as null.
    /// </summary>
    public static DateTimeOffset? AsTime(JsonElement value)
    {
        var text = AsString(value);
        if (string.IsNullOrWhiteSpace(text))
            return null;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            return null;
        return time.Year <= 1 ? null : time;
    }

    private static bool LooksLikeJson(string text)
    {
        var s = text.AsSpan().Trim();
        if (s.IsEmpty)
            return false;
        return s[0] switch
        {
            '{' or '[' or '"' => true,
            '-' or (>= '0' and <= '9') => true,
            _ => s is "true" or "false" or "null",
        };
    }
}
