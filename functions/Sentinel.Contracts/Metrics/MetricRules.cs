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
        if (ValidateHeader(batch.Version, batch.Agent, batch.Seq, batch.Host, batch.Interval, batch.Samples?.Count ?? 0, batch.Facts?.Count ?? 0) is { } problem)
            return problem;
        for (var i = 0; i < batch.Samples!.Count; i++)
        {
            if (ValidateSample(batch.Samples[i], i) is { } sampleProblem)
                return sampleProblem;
        }

        return null;
    }

    /// <summary>The batch's own fields and counts.</summary>
    public static string? ValidateHeader(int version, string? agent, long seq, string? host, int interval, int samples, int facts)
    {
        if (version != MetricBatch.CurrentVersion)
            return $"Unsupported batch version {version}; this server reads version {MetricBatch.CurrentVersion}.";
        if (!IsAgentId(agent))
            return "The agent id is missing or malformed.";
        if (seq < 1)
            return "seq must be 1 or more.";
        if (string.IsNullOrWhiteSpace(host) || host.Length > 253)
            return "host must be 1 to 253 characters.";
        if (interval is < 1 or > 3600)
            return "interval must be 1 to 3600 seconds.";
        if (samples == 0)
            return "A batch has at least one sample.";
        if (samples > MaxSamples)
            return $"A batch has at most {MaxSamples} samples.";
        if (facts > MaxFacts)
            return $"At most {MaxFacts} facts.";
        return null;
    }

    /// <summary>One sample: name, labels and a finite value.</summary>
    public static string? ValidateSample(MetricSample? s, int i)
    {
        if (s is null || !IsMetricName(s.Name))
            return $"Sample {i}: the name must match [a-z][a-z0-9_.]* and be at most {MaxNameLength} characters.";
        if (!double.IsFinite(s.Value))
            return $"Sample {i} ({s.Name}): the value must be a finite number.";
        if (s.Labels is null)
            return null;
        if (s.Labels.Count > MaxLabels)
            return $"Sample {i} ({s.Name}): at most {MaxLabels} labels.";
        foreach (var (k, v) in s.Labels)
        {
            if (!IsLabelName(k))
                return $"Sample {i} ({s.Name}): label name '{Cut(k)}' must match [a-z_][a-z0-9_]* and be at most {MaxLabelNameLength} characters.";
            if (v is null || v.Length > MaxLabelValueLength)
                return $"Sample {i} ({s.Name}): label '{k}' must have a value of at most {MaxLabelValueLength} characters.";
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

    /// <summary>A caller's text fit to quote in a reason (and so in a log line): at most 40 characters, no control characters.</summary>
    private static string Cut(string s)
    {
        var cut = s.Length > 40 ? s[..40] + "…" : s;
        return string.Create(cut.Length, cut, (span, text) =>
        {
            for (var i = 0; i < text.Length; i++)
                span[i] = char.IsControl(text[i]) ? '?' : text[i];
        });
    }
}
