namespace Sentinel.Core.Identity;

/// <summary>Email addresses as login names: trimmed, lower-cased, and checked for a plausible shape (RFC 5321 lengths).</summary>
internal static class EmailAddress
{
    public static bool TryNormalize(string? value, out string normalized)
    {
        normalized = "";
        if (value is null)
            return false;
        var email = value.Trim().ToLowerInvariant();
        if (email.Length is < 3 or > 254)
            return false;
        var at = email.LastIndexOf('@');
        if (at <= 0 || at > 64 || at == email.Length - 1 || email.IndexOf('@', StringComparison.Ordinal) != at)
            return false;
        foreach (var c in email.AsSpan(0, at))
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || c is '"' or ',' or '<' or '>' or '(' or ')' or ';' or ':' or '\\' or '[' or ']')
                return false;
        }

        var domain = email[(at + 1)..];
        var labels = domain.Split('.');
        if (labels.Length < 2)
            return false;
        foreach (var label in labels)
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            foreach (var c in label)
            {
                if (!(char.IsLetterOrDigit(c) || c == '-'))
                    return false;
            }
        }

        normalized = email;
        return true;
    }
}
