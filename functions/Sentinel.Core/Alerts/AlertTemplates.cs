using System.Globalization;
using System.Text.RegularExpressions;

namespace Sentinel.Core.Alerts;

/// <summary>
/// Annotation templates in the Prometheus subset people actually write: <c>{{ $labels.host }}</c>, <c>{{ $value }}</c>,
/// <c>{{ $value | printf "%.1f" }}</c>-style formatting via <c>{{ $value | humanize }}</c>, and <c>{{ $labels.x }}</c> for any
/// label. No code runs: anything else between braces is refused when the rule is saved.
/// </summary>
internal static partial class AlertTemplates
{
    /// <summary>Null when <paramref name="template"/> only uses supported expressions, else what is wrong.</summary>
    public static string? Check(string template)
    {
        var open = template.Split("{{").Length - 1;
        var close = template.Split("}}").Length - 1;
        if (open != close)
            return "unbalanced {{ }}.";
        foreach (Match m in Expression().Matches(template))
        {
            if (!Supported().IsMatch(m.Groups[1].Value.Trim()))
                return $"'{{{{ {m.Groups[1].Value.Trim()} }}}}' is not supported; use $labels.<name>, $value or $value | humanize.";
        }

        return null;
    }

    public static string Expand(string template, IReadOnlyDictionary<string, string> labels, double? value) =>
        Expression().Replace(template, m =>
        {
            var expr = m.Groups[1].Value.Trim();
            if (expr.StartsWith("$labels.", StringComparison.Ordinal))
                return labels.TryGetValue(expr["$labels.".Length..], out var v) ? v : "";
            if (value is not { } x)
                return "";
            return expr.EndsWith("humanize", StringComparison.Ordinal) ? Humanize(x) : x.ToString("0.###", CultureInfo.InvariantCulture);
        });

    /// <summary>Prometheus's <c>humanize</c>: SI prefixes, 4 significant digits (1234567 → 1.235M).</summary>
    public static string Humanize(double v)
    {
        var abs = Math.Abs(v);
        if (abs is 0 or double.NaN)
            return v.ToString("0.####", CultureInfo.InvariantCulture);
        string[] big = ["", "k", "M", "G", "T", "P", "E"];
        string[] small = ["", "m", "u", "n", "p"];
        var i = 0;
        if (abs >= 1)
        {
            while (abs >= 1000 && i < big.Length - 1) { abs /= 1000; v /= 1000; i++; }
            return v.ToString("0.###", CultureInfo.InvariantCulture) + big[i];
        }

        while (abs < 1 && i < small.Length - 1) { abs *= 1000; v *= 1000; i++; }
        return v.ToString("0.###", CultureInfo.InvariantCulture) + small[i];
    }

    [GeneratedRegex(@"\{\{(.*?)\}\}")]
    private static partial Regex Expression();

    [GeneratedRegex(@"^(\$labels\.[A-Za-z_][A-Za-z0-9_]*|\$value|\$value\s*\|\s*humanize)$")]
    private static partial Regex Supported();
}
