namespace Sentinel.Core.Insights;

/// <summary>What a detector decided about one value: the value, the baseline it was held against (median), the scale
/// (MAD as a standard deviation), the score (robust z) and the threshold it had to cross.</summary>
internal readonly record struct Verdict(bool Flagged, double Value, double Baseline, double Scale, double Score, double Threshold);

/// <summary>
/// The heuristics' arithmetic, pure so that the timer and the detector-quality benchmark run the same code. Baselines
/// are robust: the median and the median absolute deviation (scaled by 1.4826 to a standard deviation), so the spikes
/// being looked for do not inflate the yardstick they are measured with.
/// </summary>
internal static class Detectors
{
    /// <summary>MAD × this estimates σ for normal data.</summary>
    public const double MadToSigma = 1.4826;

    /// <summary>Robust z a metric value needs to be an anomaly (normal noise crosses 6σ about twice in a billion minutes).</summary>
    public const double AnomalyZ = 6;

    /// <summary>Points a seasonal baseline needs (one earlier day's window); fewer and the last hour is used.</summary>
    public const int MinHistory = 20;

    /// <summary>Points the last hour needs to be a baseline; fewer is "sparse" and stays quiet.</summary>
    public const int MinRecent = 45;

    /// <summary>k in median + k·σ for traffic (floods, error spikes, latency).</summary>
    public const double TrafficK = 6;

    /// <summary>The window either side of the same time on earlier days a seasonal baseline reads.</summary>
    public static readonly TimeSpan SeasonalHalfWindow = TimeSpan.FromMinutes(10);

    /// <summary>Days a seasonal baseline looks back.</summary>
    public const int SeasonalDays = 7;

    /// <summary>The recent window a metric is compared with before it has a day of history.</summary>
    public static readonly TimeSpan RecentWindow = TimeSpan.FromMinutes(60);

    /// <summary>Median and MAD of <paramref name="values"/> (sorted in place).</summary>
    public static (double Median, double Mad) MedianMad(Span<double> values)
    {
        if (values.Length == 0)
            return (double.NaN, double.NaN);
        values.Sort();
        var median = Median(values);
        Span<double> deviations = values.Length <= 2048 ? stackalloc double[values.Length] : new double[values.Length];
        for (var i = 0; i < values.Length; i++)
            deviations[i] = Math.Abs(values[i] - median);
        deviations.Sort();
        return (median, Median(deviations));
    }

    private static double Median(ReadOnlySpan<double> sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;

    /// <summary>
    /// A metric value against its history (seasonal when there is a day of it, else the last hour): flagged when its
    /// robust z reaches <see cref="AnomalyZ"/>. The scale is the history's MAD as σ, but never less than the noise the
    /// last hour shows from minute to minute (<paramref name="recent"/>, in time order: the MAD of its first
    /// differences / √2, which a daily cycle's slope does not inflate) — a day or two of seasonal history is few points,
    /// and their MAD can come out small by chance. Quiet on sparse history (fewer than <see cref="MinHistory"/> points)
    /// and on flat series: the scale is also at least 1 % of the median's size (and of the history's range), so a
    /// constant that wobbles in its last digit is not news; a flat series that really moves is.
    /// </summary>
    public static Verdict Anomaly(double value, Span<double> history, ReadOnlySpan<double> recent = default)
    {
        if (history.Length < MinHistory || !double.IsFinite(value))
            return new Verdict(false, value, double.NaN, double.NaN, 0, AnomalyZ);
        var noise = StepNoise(recent);
        var (median, mad) = MedianMad(history);
        var range = history[^1] - history[0];
        var scale = Math.Max(Math.Max(mad * MadToSigma, noise), Math.Max(0.01 * Math.Abs(median), 0.01 * range));
        if (scale <= 0)
            scale = 1e-9 + (1e-3 * Math.Abs(median));
        var z = (value - median) / scale;
        return new Verdict(Math.Abs(z) >= AnomalyZ, value, median, scale, z, AnomalyZ);
    }

    /// <summary>The heuristics' choice of baseline: the seasonal history once it has <see cref="MinHistory"/> points (a
    /// day of it), else the last hour once that has <see cref="MinRecent"/>, else nothing is said.</summary>
    public static (Verdict Verdict, bool Seasonal, int Points) AnomalyOf(double value, Span<double> seasonal, Span<double> recent)
    {
        if (seasonal.Length >= MinHistory)
            return (Anomaly(value, seasonal, recent), true, seasonal.Length);
        if (recent.Length >= MinRecent)
        {
            var copy = recent.ToArray();
            return (Anomaly(value, copy, recent), false, recent.Length);
        }

        return (new Verdict(false, value, double.NaN, double.NaN, 0, AnomalyZ), false, recent.Length);
    }

    /// <summary>Minute-to-minute noise as σ: the MAD of the first differences × 1.4826 / √2 (0 with under 10 points).</summary>
    public static double StepNoise(ReadOnlySpan<double> ordered)
    {
        if (ordered.Length < 10)
            return 0;
        var diffs = new double[ordered.Length - 1];
        for (var i = 1; i < ordered.Length; i++)
            diffs[i - 1] = ordered[i] - ordered[i - 1];
        var (_, mad) = MedianMad(diffs);
        return mad * MadToSigma / Math.Sqrt(2);
    }

    /// <summary>
    /// A traffic figure against the same hour on earlier days: flagged when it exceeds max(<paramref name="floor"/>,
    /// median + <see cref="TrafficK"/>·σ). Only upward (floods, error spikes, latency regressions).
    /// </summary>
    public static Verdict Above(double value, Span<double> history, double floor)
    {
        var (median, mad) = history.Length == 0 ? (0, 0) : MedianMad(history);
        var scale = mad * MadToSigma;
        var threshold = Math.Max(floor, median + (TrafficK * scale));
        var score = scale > 0 ? (value - median) / scale : value > median ? double.PositiveInfinity : 0;
        return new Verdict(value > threshold, value, median, scale, score, threshold);
    }

    /// <summary>The (start, end) windows a seasonal baseline reads for the minute at <paramref name="at"/>: the same time
    /// ± <see cref="SeasonalHalfWindow"/> on each of the last <see cref="SeasonalDays"/> days.</summary>
    public static IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> SeasonalWindows(DateTimeOffset at)
    {
        var list = new List<(DateTimeOffset, DateTimeOffset)>(SeasonalDays);
        for (var d = 1; d <= SeasonalDays; d++)
        {
            var same = at.AddDays(-d);
            list.Add((same - SeasonalHalfWindow, same + SeasonalHalfWindow));
        }

        return list;
    }

    /// <summary>The minutes of the same hour of day on each of the last 7 days (traffic baselines).</summary>
    public static IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> SameHourWindows(DateTimeOffset minute)
    {
        var hour = new DateTimeOffset(minute.Year, minute.Month, minute.Day, minute.Hour, 0, 0, TimeSpan.Zero);
        var list = new List<(DateTimeOffset, DateTimeOffset)>(SeasonalDays);
        for (var d = 1; d <= SeasonalDays; d++)
            list.Add((hour.AddDays(-d), hour.AddDays(-d).AddHours(1)));
        return list;
    }
}

/// <summary>fail2ban's jail for the sign-in routes: the failures that make an offender, and how long its IP is blocked.</summary>
internal static class BruteForce
{
    /// <summary>Failed logins for one (IP, account) within <see cref="Window"/> that make an offender.</summary>
    public const int MaxFailures = 5;

    public static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    public static readonly TimeSpan FirstBlock = TimeSpan.FromMinutes(10);

    /// <summary>How long earlier blocks count towards doubling.</summary>
    public static readonly TimeSpan StrikeMemory = TimeSpan.FromDays(7);

    /// <summary>The recidive jail: this many blocks within a day earn <see cref="RecidiveBlock"/>.</summary>
    public const int RecidiveStrikes = 5;

    public static readonly TimeSpan RecidiveBlock = TimeSpan.FromDays(7);

    /// <summary>The block for an IP's <paramref name="strike"/>-th offence (1-based) within the strike memory, of which
    /// <paramref name="strikesToday"/> fell in the last day: 10 min, doubling, one week for a repeat offender.</summary>
    public static TimeSpan BlockFor(int strike, int strikesToday)
    {
        if (strikesToday >= RecidiveStrikes)
            return RecidiveBlock;
        var doubled = FirstBlock * Math.Pow(2, Math.Clamp(strike - 1, 0, 20));
        return doubled < RecidiveBlock ? doubled : RecidiveBlock;
    }
}

/// <summary>The gateway-traffic rules: floors under which nothing is news, and the minimum counts a verdict needs.</summary>
internal static class TrafficRules
{
    /// <summary>Floors under which traffic is never a flood, spike or regression, whatever the baseline.</summary>
    public const double OverallFloodFloorPerSecond = 10, IpFloodFloorPerSecond = 5, ErrorRatioFloor = 0.05, LatencyFloorMs = 500;

    /// <summary>Errors a minute needs before its ratio can be a spike; requests it needs before its p95 means anything.</summary>
    public const int MinErrors = 20, MinRequestsForLatency = 30;

    /// <summary>An IP gets a per-minute row (and a flood verdict) from this many requests in the minute.</summary>
    public const int IpRollupMinRequests = 30;

    /// <summary>Past minutes count towards an error-ratio or latency baseline from this many requests.</summary>
    public const int MinRequestsForBaseline = 10;

    public static Verdict Flood(double requestsPerSecond, Span<double> history, bool overall) =>
        Detectors.Above(requestsPerSecond, history, overall ? OverallFloodFloorPerSecond : IpFloodFloorPerSecond);

    public static Verdict ErrorSpike(int requests, int errors, Span<double> ratioHistory)
    {
        var ratio = requests == 0 ? 0 : (double)errors / requests;
        var v = Detectors.Above(ratio, ratioHistory, ErrorRatioFloor);
        return v with { Flagged = v.Flagged && errors >= MinErrors };
    }

    public static Verdict Latency(double p95Ms, int requests, Span<double> history)
    {
        var v = Detectors.Above(p95Ms, history, LatencyFloorMs);
        return v with { Flagged = v.Flagged && requests >= MinRequestsForLatency };
    }
}
