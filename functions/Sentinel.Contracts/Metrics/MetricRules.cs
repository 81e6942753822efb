namespace Sentinel.Contracts.Metrics;

/// <summary>The bounds of a valid batch, checked by the agent before it spools and by ingest before it stores.</summary>
public static class MetricRules
{
    public const int MaxSamples = 10_000;
    public const int MaxNameLength = 128;
    public const int MaxLabels = 16;
    public const int MaxLabelNameLength = 64;
    public const int MaxLabelValueLength = 256;
    public const int MaxFacts = 32;
    public const int MaxAgentIdLength = 64;

    /// <summary>Null when the batch is valid, else the first problem in words.</summary>
    public static string? Validate(MetricBatch batch)
    {
        if (batch.Version != MetricBatch.CurrentVersion)
            return $"Unsupported batch version {batch.Version}; this server reads version {MetricBatch.CurrentVersion}.";
        if (!IsAgentId(batch.Agent))
            return "The agent id is missing or malformed.";
        if (batch.Seq < 1)
            return "seq must be 1 or more.";
        if (string.IsNullOrWhiteSpace(batch.Host) || batch.Host.Length > 253)
            return "host must be 1 to 253 characters.";
        if (batch.Interval is < 1 or > 3600)
            return "interval must be 1 to 3600 seconds.";
        if (batch.Samples is null || batch.Samples.Count == 0)
            return "A batch has at least one sample.";
        if (batch.Samples.Count > MaxSamples)
            return $"A batch has at most {MaxSamples} samples.";
        if (batch.Facts is { Count: > MaxFacts })
            return $"At most {MaxFacts} facts.";
        for (var i = 0; i < batch.Samples.Count; i++)
        {
            var s = batch.Samples[i];
            if (s is null || !IsMetricName(s.Name))
                return $"Sample {i}: the name must match [a-z][a-z0-9_.]* and be at most {MaxNameLength} characters.";
            if (!double.IsFinite(s.Value))
                return $"Sample {i} ({s.Name}): the value must be a finite number.";
            if (s.Labels is null)
                continue;
            if (s.Labels.Count > MaxLabels)
                return $"Sample {i} ({s.Name}): at most {MaxLabels} labels.";
            foreach (var (k, v) in s.Labels)
            {
                if (!IsLabelName(k))
                    return $"Sample {i} ({s.Name}): label name '{Cut(k)}' must match [a-z_][a-z0-9_]* and be at most {MaxLabelNameLength} characters.";
                if (v is null || v.Length > MaxLabelValueLength)
                    return $"Sample {i} ({s.Name}): label '{k}' must have a value of at most {MaxLabelValueLength} characters.";
            }
        }

        return null;
    }

    public static bool IsAgentId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxAgentIdLength)
            return false;
        foreach (var c in id)
        {
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_'))
                return false;
        }

        return true;
    }

    public static bool IsMetricName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name[0] is < 'a' or > 'z')
            return false;
        foreach (var c in name)
        {
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' or '.'))
                return false;
        }

        return true;
    }

    public static bool IsLabelName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLabelNameLength || name[0] is >= '0' and <= '9')
            return false;
        foreach (var c in name)
        {
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_'))
                return false;
        }

        return true;
    }

    private static string Cut(string s) => s.Length > 40 ? s[..40] + "…" : s;
}
