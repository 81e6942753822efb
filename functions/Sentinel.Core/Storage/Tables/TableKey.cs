using System.Globalization;
using System.Text;

namespace Sentinel.Core.Storage.Tables;

/// <summary>
/// Makes any string safe as a PartitionKey or RowKey. Tables forbids <c>/ \ # ?</c> and the control characters
/// U+0000–U+001F and U+007F–U+009F in keys (azure-rest-protocols.md §B6); those, and <c>%</c> itself, become
/// <c>%XX</c> (all are below U+00A0), so the mapping is reversible and plain text is left as it is.
/// </summary>
internal static class TableKey
{
    /// <summary>Azurite's key limit (Azure allows 1 KiB); we hold ourselves to the smaller.</summary>
    public const int MaxLength = 512;

    public static string Escape(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!NeedsEscaping(value))
            return value;
        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            if (IsForbidden(c) || c == '%')
                sb.Append('%').Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            else
                sb.Append(c);
        }

        return sb.ToString();
    }

    public static string Unescape(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.Contains('%', StringComparison.Ordinal))
            return value;
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length
                && int.TryParse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
            {
                sb.Append((char)code);
                i += 2;
            }
            else
            {
                sb.Append(value[i]);
            }
        }

        return sb.ToString();
    }

    /// <summary>True when a value can be used as a key without escaping and within the length limit.</summary>
    public static bool IsValid(string value)
    {
        if (value.Length > MaxLength)
            return false;
        foreach (var c in value)
        {
            if (IsForbidden(c))
                return false;
        }

        return true;
    }

    private static bool NeedsEscaping(string value)
    {
        foreach (var c in value)
        {
            if (IsForbidden(c) || c == '%')
                return true;
        }

        return false;
    }

    private static bool IsForbidden(char c) => c is '/' or '\\' or '#' or '?' or <= '\u001f' or (>= '\u007f' and <= '\u009f');
}
