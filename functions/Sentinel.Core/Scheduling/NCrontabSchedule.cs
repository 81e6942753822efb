using System.Globalization;

namespace Sentinel.Core.Scheduling;

/// <summary>
/// A six-field NCRONTAB expression, <c>{second} {minute} {hour} {day} {month} {day-of-week}</c>, as the Functions
/// timer trigger reads it. Each field takes <c>*</c>, a value, a range <c>a-b</c>, a step <c>*/n</c>, <c>a-b/n</c> or
/// <c>a/n</c> (from a to the field's maximum), and comma lists of those. Months take <c>JAN</c>–<c>DEC</c>,
/// days of week <c>SUN</c>–<c>SAT</c> (0–6, and 7 for Sunday). As in NCrontab (which the host uses), a time matches
/// only when <b>both</b> day-of-month and day-of-week match. Times are UTC: Flex Consumption has no time-zone setting.
/// </summary>
internal sealed class NCrontabSchedule
{
    private static readonly string[] MonthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    private static readonly string[] DayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    // A year limit for the search: the rarest satisfiable match (Feb 29 on a given weekday) recurs within 28 years.
    private const int SearchYears = 30;

    private readonly ulong _seconds;
    private readonly ulong _minutes;
    private readonly ulong _hours;
    private readonly ulong _days;
    private readonly ulong _months;
    private readonly ulong _daysOfWeek;

    private NCrontabSchedule(string expression, ulong[] fields)
    {
        Expression = expression;
        (_seconds, _minutes, _hours, _days, _months, _daysOfWeek) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);
    }

    /// <summary>The expression as written.</summary>
    public string Expression { get; }

    /// <summary>Parses an expression; throws <see cref="FormatException"/> with the field at fault.</summary>
    public static NCrontabSchedule Parse(string expression) =>
        TryParse(expression, out var schedule, out var error) ? schedule! : throw new FormatException(error);

    /// <summary>Parses an expression; on failure <paramref name="error"/> says which field is wrong and why.</summary>
    public static bool TryParse(string? expression, out NCrontabSchedule? schedule, out string? error)
    {
        schedule = null;
        if (string.IsNullOrWhiteSpace(expression))
        {
            error = "The schedule is empty.";
            return false;
        }

        var parts = expression.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 6)
        {
            error = $"'{expression}' has {parts.Length} fields; NCRONTAB needs 6: second minute hour day month day-of-week.";
            return false;
        }

        var fields = new ulong[6];
        (string Name, int Min, int Max, string[]? Names)[] specs =
        [
            ("second", 0, 59, null), ("minute", 0, 59, null), ("hour", 0, 23, null),
            ("day", 1, 31, null), ("month", 1, 12, MonthNames), ("day-of-week", 0, 7, DayNames),
        ];
        for (var i = 0; i < 6; i++)
        {
            var (name, min, max, names) = specs[i];
            if (!TryParseField(parts[i], min, max, names, out fields[i], out var fieldError))
            {
                error = $"The {name} field '{parts[i]}' is invalid: {fieldError}";
                return false;
            }
        }

        // 7 is Sunday, like 0.
        if ((fields[5] & (1UL << 7)) != 0)
            fields[5] = (fields[5] & ~(1UL << 7)) | 1UL;
        error = null;
        schedule = new NCrontabSchedule(expression, fields);
        return true;
    }

    /// <summary>The first matching time strictly after <paramref name="after"/> (UTC), or null if there is none.</summary>
    public DateTimeOffset? GetNextOccurrence(DateTimeOffset after)
    {
        var utc = after.UtcDateTime;
        var t = new DateTime(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, utc.Second, DateTimeKind.Utc).AddSeconds(1);
        var limit = utc.Year + SearchYears;

        while (t.Year <= limit)
        {
            if (!Has(_months, t.Month))
            {
                var m = Next(_months, t.Month + 1, 12);
                t = m < 0 ? new DateTime(t.Year + 1, 1, 1, 0, 0, 0, DateTimeKind.Utc) : new DateTime(t.Year, m, 1, 0, 0, 0, DateTimeKind.Utc);
                continue;
            }

            if (!Has(_days, t.Day) || !Has(_daysOfWeek, (int)t.DayOfWeek))
            {
                t = t.Date.AddDays(1);
                continue;
            }

            if (!Has(_hours, t.Hour))
            {
                var h = Next(_hours, t.Hour + 1, 23);
                t = h < 0 ? t.Date.AddDays(1) : t.Date.AddHours(h);
                continue;
            }

            if (!Has(_minutes, t.Minute))
            {
                var mi = Next(_minutes, t.Minute + 1, 59);
                var hour = t.Date.AddHours(t.Hour);
                t = mi < 0 ? hour.AddHours(1) : hour.AddMinutes(mi);
                continue;
            }

            if (!Has(_seconds, t.Second))
            {
                var s = Next(_seconds, t.Second + 1, 59);
                var minute = t.Date.AddHours(t.Hour).AddMinutes(t.Minute);
                t = s < 0 ? minute.AddMinutes(1) : minute.AddSeconds(s);
                continue;
            }

            return new DateTimeOffset(t);
        }

        return null;
    }

    /// <inheritdoc />
    public override string ToString() => Expression;

    private static bool Has(ulong bits, int value) => (bits & (1UL << value)) != 0;

    private static int Next(ulong bits, int from, int max)
    {
        for (var v = from; v <= max; v++)
        {
            if (Has(bits, v))
                return v;
        }

        return -1;
    }

    private static bool TryParseField(string field, int min, int max, string[]? names, out ulong bits, out string? error)
    {
        bits = 0;
        foreach (var item in field.Split(','))
        {
            if (item.Length == 0)
            {
                error = "an empty list item.";
                return false;
            }

            var range = item;
            var step = 1;
            var slash = item.IndexOf('/');
            if (slash >= 0)
            {
                range = item[..slash];
                if (!int.TryParse(item.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out step) || step <= 0)
                {
                    error = $"the step in '{item}' must be a positive whole number.";
                    return false;
                }
            }

            int low, high;
            if (range == "*")
            {
                (low, high) = (min, names == DayNames ? 6 : max);
            }
            else
            {
                var dash = range.IndexOf('-', 1);
                if (!TryValue(dash < 0 ? range : range[..dash], min, max, names, out low, out error))
                    return false;
                if (dash >= 0)
                {
                    if (!TryValue(range[(dash + 1)..], min, max, names, out high, out error))
                        return false;
                    if (high < low)
                    {
                        error = $"the range '{range}' runs backwards.";
                        return false;
                    }
                }
                else
                {
                    // "a/n" means from a to the maximum in steps of n; a lone "a" is just a.
                    high = slash >= 0 ? (names == DayNames ? 6 : max) : low;
                }
            }

            for (var v = low; v <= high; v += step)
                bits |= 1UL << v;
        }

        error = null;
        return true;
    }

    private static bool TryValue(string text, int min, int max, string[]? names, out int value, out string? error)
    {
        error = null;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            if (value >= min && value <= max)
                return true;
            error = $"{value} is outside {min}-{max}.";
            return false;
        }

        if (names is not null)
        {
            var index = Array.FindIndex(names, n => n.Equals(text, StringComparison.OrdinalIgnoreCase));
            if (index >= 0)
            {
                value = names == MonthNames ? index + 1 : index;
                return true;
            }
        }

        error = $"'{text}' is not a number{(names is null ? "" : " or a name")}.";
        return false;
    }
}
