namespace Sentinel.Core.Identity;

/// <summary>The kinds of expected failure; the HTTP edge maps each to a status and a problem type.</summary>
internal enum FailureKind
{
    /// <summary>Well-formed but invalid input (422).</summary>
    Invalid,

    /// <summary>Credentials missing or wrong (401).</summary>
    Unauthorized,

    /// <summary>Known caller, not allowed (403).</summary>
    Forbidden,

    /// <summary>No such thing in this tenant (404).</summary>
    NotFound,

    /// <summary>Already exists, or changed under us (409).</summary>
    Conflict,

    /// <summary>Throttled or locked out for <see cref="Failure.RetryAfter"/> (429).</summary>
    Throttled,
}

/// <summary>An expected failure: kind, stable slug (the problem type), a title and a detail safe to show the caller.</summary>
internal sealed record Failure(FailureKind Kind, string Slug, string Title, string Detail, TimeSpan? RetryAfter = null);

/// <summary>A value or an expected failure.</summary>
internal readonly record struct Outcome<T>(T? Value, Failure? Failure)
{
    public bool Succeeded => Failure is null;

    public static implicit operator Outcome<T>(T value) => new(value, null);

    public static implicit operator Outcome<T>(Failure failure) => new(default, failure);
}
