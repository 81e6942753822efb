using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Sentinel.Core.Scheduling;

namespace Sentinel.Core.Tests.Scheduling;

public class NCrontabScheduleTests
{
    private static DateTimeOffset T(string iso) => DateTimeOffset.Parse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    // Hand-worked next occurrences. 2026-11-20 is a Friday, 2026-11-22 a Sunday; Feb 29 falls on a Monday first in 2044.
    [Theory]
    [InlineData("0 */5 * * * *", "2026-11-22T08:03:10Z", "2026-11-22T08:05:00Z")]
    [InlineData("0 */5 * * * *", "2026-11-22T08:05:00Z", "2026-11-22T08:10:00Z")]
    [InlineData("*/15 * * * * *", "2026-11-22T08:00:14Z", "2026-11-22T08:00:15Z")]
    [InlineData("*/15 * * * * *", "2026-11-22T08:00:45Z", "2026-11-22T08:01:00Z")]
    [InlineData("*/15 * * * * *", "2026-11-22T08:00:45.900Z", "2026-11-22T08:01:00Z")]
    [InlineData("10/20 * * * * *", "2026-11-22T08:00:31Z", "2026-11-22T08:00:50Z")]
    [InlineData("10/20 * * * * *", "2026-11-22T08:00:50Z", "2026-11-22T08:01:10Z")]
    [InlineData("0 5-10/2 * * * *", "2026-11-22T08:07:00Z", "2026-11-22T08:09:00Z")]
    [InlineData("0 5-10/2 * * * *", "2026-11-22T08:09:00Z", "2026-11-22T09:05:00Z")]
    [InlineData("0 0 9 * * MON-FRI", "2026-11-20T10:00:00Z", "2026-11-23T09:00:00Z")]
    [InlineData("0 0 9 * * 1-5", "2026-11-20T08:59:59Z", "2026-11-20T09:00:00Z")]
    [InlineData("0 0 12 * * 0", "2026-11-20T00:00:00Z", "2026-11-22T12:00:00Z")]
    [InlineData("0 0 12 * * 7", "2026-11-20T00:00:00Z", "2026-11-22T12:00:00Z")]
    [InlineData("0 0 12 * * SUN", "2026-11-22T12:00:00Z", "2026-11-29T12:00:00Z")]
    [InlineData("0 30 9,17 * * *", "2026-11-22T09:30:00Z", "2026-11-22T17:30:00Z")]
    [InlineData("0 30 9,17 * * *", "2026-11-22T17:30:00Z", "2026-11-23T09:30:00Z")]
    [InlineData("30 15 10 1 * *", "2026-11-22T00:00:00Z", "2026-12-01T10:15:30Z")]
    [InlineData("0 0 0 1 JAN,jul *", "2026-11-22T00:00:00Z", "2027-01-01T00:00:00Z")]
    [InlineData("0 0 0 1 JAN,jul *", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z")]
    [InlineData("0 0 0 31 * *", "2026-11-22T00:00:00Z", "2026-12-31T00:00:00Z")]
    [InlineData("0 0 0 31 * *", "2027-01-31T00:00:00Z", "2027-03-31T00:00:00Z")]
    [InlineData("0 0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z")]
    [InlineData("0 0 0 29 2 MON", "2026-03-01T00:00:00Z", "2044-02-29T00:00:00Z")]
    [InlineData("0 59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z")]
    [InlineData("0 0 0 13 * FRI", "2026-11-22T00:00:00Z", "2027-08-13T00:00:00Z")]
    [InlineData("0 0 */6 * * *", "2026-11-22T19:00:00Z", "2026-11-23T00:00:00Z")]
    public void GetNextOccurrence_HandWorkedCases_MatchesExpected(string expression, string after, string expected)
    {
        var schedule = NCrontabSchedule.Parse(expression);

        var next = schedule.GetNextOccurrence(T(after));

        Assert.Equal(T(expected), next);
    }

    [Fact]
    public void GetNextOccurrence_OffsetInput_IsComputedInUtc()
    {
        var schedule = NCrontabSchedule.Parse("0 0 9 * * *");

        var next = schedule.GetNextOccurrence(DateTimeOffset.Parse("2026-11-22T08:30:00+02:00", CultureInfo.InvariantCulture));

        Assert.Equal(T("2026-11-22T09:00:00Z"), next);
        Assert.Equal(TimeSpan.Zero, next!.Value.Offset);
    }

    [Fact]
    public void GetNextOccurrence_ImpossibleDate_ReturnsNull()
    {
        Assert.Null(NCrontabSchedule.Parse("0 0 0 30 2 *").GetNextOccurrence(T("2026-01-01T00:00:00Z")));
        Assert.Null(NCrontabSchedule.Parse("0 0 0 31 4,6,9,11 *").GetNextOccurrence(T("2026-01-01T00:00:00Z")));
    }

    [Theory]
    [InlineData("* * * * *", "5 fields")]
    [InlineData("* * * * * * *", "7 fields")]
    [InlineData("60 * * * * *", "second")]
    [InlineData("* 60 * * * *", "minute")]
    [InlineData("* * 24 * * *", "hour")]
    [InlineData("* * * 0 * *", "day")]
    [InlineData("* * * 32 * *", "day")]
    [InlineData("* * * * 13 *", "month")]
    [InlineData("* * * * FOO *", "month")]
    [InlineData("* * * * * 8", "day-of-week")]
    [InlineData("*/0 * * * * *", "step")]
    [InlineData("5-1 * * * * *", "backwards")]
    [InlineData("a * * * * *", "not a number")]
    [InlineData("1,,2 * * * * *", "empty list item")]
    [InlineData("", "empty")]
    public void TryParse_Invalid_ExplainsWhichField(string expression, string expectedInError)
    {
        var ok = NCrontabSchedule.TryParse(expression, out var schedule, out var error);

        Assert.False(ok);
        Assert.Null(schedule);
        Assert.Contains(expectedInError, error, StringComparison.OrdinalIgnoreCase);
        Assert.Throws<FormatException>(() => NCrontabSchedule.Parse(expression));
    }

    [Fact]
    public void GetNextOccurrence_RandomSchedulesAndTimes_IsTheFirstMatchingSecondAfter()
    {
        // Property: for schedules over seconds, minutes and hours, the answer is later than the input, matches, and no
        // second in between matches (checked by brute force over at most a day).
        var secondsField = Gen.Elements("*", "0", "*/7", "10-20", "5,35,50", "30/10");
        var minutesField = Gen.Elements("*", "0", "*/15", "5-10", "1,59");
        var hoursField = Gen.Elements("*", "0", "*/6", "9-17", "23");
        var gen = from s in secondsField
                  from m in minutesField
                  from h in hoursField
                  from offset in Gen.Choose(0, 86_400 * 30)
                  select (Expression: $"{s} {m} {h} * * *", After: T("2026-01-01T00:00:00Z").AddSeconds(offset).AddMilliseconds(offset % 1000));

        Prop.ForAll(gen.ToArbitrary(), c =>
        {
            var schedule = NCrontabSchedule.Parse(c.Expression);
            var next = schedule.GetNextOccurrence(c.After)!.Value;
            var brute = new DateTimeOffset(c.After.Year, c.After.Month, c.After.Day, c.After.Hour, c.After.Minute, c.After.Second, TimeSpan.Zero).AddSeconds(1);
            while (!Matches(c.Expression, brute))
                brute = brute.AddSeconds(1);
            return next == brute;
        }).QuickCheckThrowOnFailure();
    }

    // An independent, naive matcher for the property above (seconds/minutes/hours fields only).
    private static bool Matches(string expression, DateTimeOffset t)
    {
        var f = expression.Split(' ');
        return Field(f[0], t.Second, 59) && Field(f[1], t.Minute, 59) && Field(f[2], t.Hour, 23);

        static bool Field(string field, int value, int max)
        {
            foreach (var item in field.Split(','))
            {
                var parts = item.Split('/');
                var step = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 1;
                int lo, hi;
                if (parts[0] == "*")
                    (lo, hi) = (0, max);
                else if (parts[0].Contains('-', StringComparison.Ordinal))
                    (lo, hi) = (int.Parse(parts[0].Split('-')[0], CultureInfo.InvariantCulture), int.Parse(parts[0].Split('-')[1], CultureInfo.InvariantCulture));
                else
                    (lo, hi) = (int.Parse(parts[0], CultureInfo.InvariantCulture), parts.Length > 1 ? max : int.Parse(parts[0], CultureInfo.InvariantCulture));
                if (value >= lo && value <= hi && (value - lo) % step == 0)
                    return true;
            }

            return false;
        }
    }
}
