using Sentinel.Core.Insights;

namespace Sentinel.Core.Tests.Insights;

/// <summary>The heuristics' arithmetic: robust statistics, anomaly guards, traffic thresholds and fail2ban's schedule.</summary>
public sealed class DetectorsTests
{
    [Fact]
    public void MedianMad_IsRobustToTheOutliersItIsUsedToFind()
    {
        double[] values = [10, 11, 9, 10, 12, 8, 10, 1000];
        var (median, mad) = Detectors.MedianMad(values);
        Assert.Equal(10, median);
        Assert.Equal(1, mad);
        Assert.True(double.IsNaN(Detectors.MedianMad([]).Median));
    }

    [Fact]
    public void Anomaly_FlagsAFarValue_EitherWay_AndStaysQuietWithinTheNoise()
    {
        var history = Enumerable.Range(0, 200).Select(i => 50 + (Math.Sin(i * 1.7) * 3)).ToArray();
        Assert.True(Detectors.Anomaly(90, history.ToArray()).Flagged);
        var dip = Detectors.Anomaly(10, history.ToArray());
        Assert.True(dip.Flagged);
        Assert.True(dip.Score < 0);
        Assert.False(Detectors.Anomaly(55, history.ToArray()).Flagged);
    }

    [Fact]
    public void Anomaly_IsQuietOnSparseHistory_AndOnAFlatSeriesThatOnlyWobbles_ButNotWhenItReallyMoves()
    {
        Assert.False(Detectors.Anomaly(1000, Enumerable.Repeat(5.0, Detectors.MinHistory - 1).ToArray()).Flagged);
        var flat = Enumerable.Repeat(1e11, 100).ToArray();
        Assert.False(Detectors.Anomaly(1e11 + 1000, flat.ToArray()).Flagged);
        Assert.True(Detectors.Anomaly(2e11, flat.ToArray()).Flagged);
        var zeros = new double[100];
        Assert.True(Detectors.Anomaly(3, zeros).Flagged); // a series that is always 0 and now is not
        Assert.False(Detectors.Anomaly(double.NaN, Enumerable.Range(0, 100).Select(i => (double)i).ToArray()).Flagged);
    }

    [Fact]
    public void AnomalyOf_UsesTheSeasonalHistoryOnceADayExists_ElseAFullEnoughLastHour_AndTheLastHoursNoiseAsAFloor()
    {
        var hour = Enumerable.Range(0, 60).Select(i => 50 + (i * 0.5) + (2 * Math.Sin(i * 2.3))).ToArray(); // a slope with ±2 noise
        var (verdict, seasonal, points) = Detectors.AnomalyOf(200, [], hour);
        Assert.True(verdict.Flagged);
        Assert.False(seasonal);
        Assert.Equal(60, points);
        Assert.False(Detectors.AnomalyOf(200, [], hour.AsSpan(0, Detectors.MinRecent - 1)).Verdict.Flagged); // sparse: quiet

        // Twenty seasonal points that happen to agree to a hair: the last hour's minute-to-minute noise (±2) keeps 60 from
        // looking 6σ away from 58.
        var tight = Enumerable.Repeat(58.0, Detectors.MinHistory).Select((v, i) => v + (i * 1e-3)).ToArray();
        var (guarded, isSeasonal, _) = Detectors.AnomalyOf(60, tight, hour);
        Assert.True(isSeasonal);
        Assert.False(guarded.Flagged);
        Assert.True(Detectors.StepNoise(hour) > 1);
        Assert.Equal(0, Detectors.StepNoise(hour.AsSpan(0, 5)));
    }

    [Fact]
    public void Above_NeedsBothTheFloorAndTheBaseline()
    {
        var quiet = Enumerable.Range(0, 420).Select(i => 1.0 + ((i % 5) * 0.1)).ToArray();
        Assert.False(Detectors.Above(8, quiet.ToArray(), floor: 10).Flagged);   // far above the baseline, under the floor
        var flood = Detectors.Above(12, quiet.ToArray(), floor: 10);
        Assert.True(flood.Flagged);
        Assert.Equal(10, flood.Threshold);
        var busy = Enumerable.Range(0, 420).Select(i => 100.0 + (i % 21)).ToArray();
        var usual = Detectors.Above(115, busy.ToArray(), floor: 10);           // over the floor, within the usual
        Assert.False(usual.Flagged);
        Assert.True(usual.Threshold > 115);
        Assert.True(Detectors.Above(11, [], floor: 10).Flagged);                // no history: the floor decides
    }

    [Theory]
    [InlineData(1, 1, 10)]
    [InlineData(2, 2, 20)]
    [InlineData(3, 3, 40)]
    [InlineData(4, 1, 80)]
    [InlineData(5, 5, 10080)] // recidive: five blocks in a day
    [InlineData(20, 1, 10080)] // doubling is capped at a week
    public void BlockFor_DoublesFromTenMinutes_AndGivesRepeatOffendersAWeek(int strike, int today, int minutes) =>
        Assert.Equal(TimeSpan.FromMinutes(minutes), BruteForce.BlockFor(strike, today));

    [Fact]
    public void Windows_AreTheSameTimeOnEachOfTheLastSevenDays()
    {
        var at = new DateTimeOffset(2026, 11, 22, 14, 37, 0, TimeSpan.Zero);
        var seasonal = Detectors.SeasonalWindows(at);
        Assert.Equal(7, seasonal.Count);
        Assert.Equal((at.AddDays(-1).AddMinutes(-10), at.AddDays(-1).AddMinutes(10)), seasonal[0]);
        var hours = Detectors.SameHourWindows(at);
        Assert.Equal((new DateTimeOffset(2026, 11, 15, 14, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 15, 15, 0, 0, TimeSpan.Zero)), hours[6]);
    }
}
