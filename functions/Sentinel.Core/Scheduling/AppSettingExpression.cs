using System.Text;

namespace Sentinel.Core.Scheduling;

/// <summary>
/// Resolves <c>%Name%</c> references in binding expressions (schedules, hub names) against app settings, the
/// way the Functions host's name resolver does. A reference to a missing setting is an error, as in the host.
/// </summary>
internal static class AppSettingExpression
{
    /// <summary>Replaces each <c>%Name%</c> with <paramref name="lookup"/>(Name); throws if one is missing.</summary>
    public static string Resolve(string expression, Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(expression);
        ArgumentNullException.ThrowIfNull(lookup);
        if (!expression.Contains('%', StringComparison.Ordinal))
            return expression;

        var result = new StringBuilder(expression.Length);
        var i = 0;
        while (i < expression.Length)
        {
            var start = expression.IndexOf('%', i);
            if (start < 0)
            {
                result.Append(expression, i, expression.Length - i);
                break;
            }

            var end = expression.IndexOf('%', start + 1);
            if (end < 0)
                throw new FormatException($"'{expression}' has an unclosed %setting% reference.");
            result.Append(expression, i, start - i);
            var name = expression[(start + 1)..end];
            if (name.Length == 0)
                throw new FormatException($"'{expression}' has an empty %% reference.");
            var value = lookup(name) ?? lookup(name.Replace("__", ":", StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"The app setting '{name}' referenced by '{expression}' is not set.");
            result.Append(value);
            i = end + 1;
        }

        return result.ToString();
    }
}
