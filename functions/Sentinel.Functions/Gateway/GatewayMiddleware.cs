using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Sentinel.Core.Identity;
using Sentinel.Core.RateLimiting;
using Sentinel.Core.RequestLog;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Http;

namespace Sentinel.Functions.Gateway;

/// <summary>
/// Every API request, in order: resolve the client address; authenticate a Bearer token or an API key; charge the
/// endpoint's rate-limit policy (per principal, or per IP when anonymous) and answer the IETF RateLimit headers on
/// every response; check the endpoint's declared access; run it; and queue a request-log entry, which never delays
/// the response. Failed authentication is charged to the IP's bucket before it is refused. An <see cref="IMiddleware"/>
/// (a singleton resolved at the first API request), so building the pipeline at start-up does not load the identity
/// graph and its crypto: the Functions host's readiness probe is answered sooner.
/// </summary>
internal sealed partial class GatewayMiddleware(
    IdentityService identity,
    TokenRevocations revocations,
    RateLimiter limiter,
    AuthBlocks authBlocks,
    RequestLogWriter requestLog,
    IOptions<RateLimitingOptions> rateLimiting,
    HostInfo host,
    TimeProvider time,
    ILogger<GatewayMiddleware> logger) : IMiddleware
{
    private readonly RateLimitingOptions _options = rateLimiting.Value;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<RouteEndpoint, string> _routes = new();
    private readonly bool _trustForwardedFor = rateLimiting.Value.TrustForwardedFor ?? host.Mode == HostMode.Functions;

    public static bool Applies(PathString path) =>
        path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/.well-known", StringComparison.OrdinalIgnoreCase);

    public async Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        var started = Stopwatch.GetTimestamp();
        var feature = new GatewayFeature { ClientIp = ResolveClientIp(http) };
        http.Features.Set(feature);
        var counting = new CountingBody(http);
        try
        {
            await HandleAsync(http, feature, next);
        }
        finally
        {
            counting.Restore();
            var endpoint = http.GetEndpoint() as RouteEndpoint;
            requestLog.TryWrite(new RequestLogEntry(
                time.GetUtcNow(),
                feature.Principal?.TenantId,
                feature.Principal?.Name,
                feature.ClientIp,
                http.Request.Method.Length <= 10 ? http.Request.Method : "OTHER",
                endpoint is null ? "(unmatched)" : _routes.GetOrAdd(endpoint, static e => "/" + (e.RoutePattern.RawText ?? "").TrimStart('/')),
                http.Response.StatusCode,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                http.Request.ContentLength ?? 0,
                counting.Written,
                feature.RateLimited,
                feature.FailedAccount));
        }
    }

    private async Task HandleAsync(HttpContext http, GatewayFeature feature, RequestDelegate next)
    {
        var ct = http.RequestAborted;
        var endpoint = http.GetEndpoint();
        var access = endpoint?.Metadata.GetMetadata<AccessPolicy>();

        Failure? authFailure = null;
        AccessTokenValidation? bearer = null;
        var authorization = http.Request.Headers.Authorization.ToString();
        if (authorization.Length > 0 && endpoint?.Metadata.GetMetadata<OwnCredentials>() is null)
        {
            var outcome = await AuthenticateAsync(authorization, ct);
            if (outcome.Succeeded)
                (feature.Principal, bearer) = outcome.Value;
            else
                authFailure = outcome.Failure;
        }

        // A bearer token's revocation is checked by the rate-limit script in the same Redis round trip; with limiting
        // switched off it is asked on its own.
        var probe = bearer is null ? null : revocations.Probe(bearer.Principal!, bearer.IssuedAt);
        var (limited, revoked) = await RateLimitAsync(http, feature, endpoint, probe, ct);
        // Unknown (null) with limiting on means Redis is away: the limiter failed open, and so does the check (logged there).
        if (bearer is not null && (revocations.IsRevokedLocally(probe!)
            || (revoked ?? (!_options.Enabled && await identity.CheckNotRevokedAsync(bearer, ct) is not null))))
        {
            authFailure = IdentityService.TokenRevoked;
            feature.Principal = null;
        }

        if (limited is not null)
        {
            await limited.ExecuteAsync(http);
            return;
        }

        // An IP the brute-force heuristic convicted is refused on the sign-in routes until its block ends (the IETF
        // RateLimit draft -11 §5.3 problem type for clients throttled by heuristics).
        if (endpoint?.Metadata.GetMetadata<RateLimitClass>()?.Policy == GatewayDefaults.AuthPolicy && feature.ClientIp is { } ip
            && await authBlocks.BlockedForAsync(ip.ToString(), ct) is { } blockedFor)
        {
            feature.RateLimited = true;
            var seconds = (int)Math.Ceiling(blockedFor.TotalSeconds);
            await Problems.Result(StatusCodes.Status429TooManyRequests, "abnormal-usage-detected", "Address blocked",
                $"Too many failed sign-ins came from this address; it may not sign in for {Core.Insights.Heuristics.Human(blockedFor)} more.", seconds).ExecuteAsync(http);
            return;
        }

        if (authFailure is not null)
        {
            await Challenge(http, authFailure.Slug, authFailure.Title, authFailure.Detail).ExecuteAsync(http);
            return;
        }

        if (access is null && endpoint is RouteEndpoint)
        {
            // Fail closed: an API endpoint that forgot to declare its access is not served.
            LogUndeclared(logger, endpoint.DisplayName ?? "?");
            await Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "Forbidden", "This endpoint declares no access policy.").ExecuteAsync(http);
            return;
        }

        if (access is { Anonymous: false })
        {
            if (feature.Principal is not { } principal)
            {
                await Challenge(http, "unauthorized", "Authentication required", "Send 'Authorization: Bearer <access token>' or 'Authorization: ApiKey <key>'.").ExecuteAsync(http);
                return;
            }

            var allowed = principal.IsApiKey
                ? access.Scope is { } scope && (scope == AccessPolicy.AnyScope || principal.HasScope(scope))
                : principal.Role >= access.MinimumRole;
            if (!allowed)
            {
                await Problems.Result(StatusCodes.Status403Forbidden, "forbidden", "Forbidden", $"This endpoint needs {access.Describe()}.").ExecuteAsync(http);
                return;
            }
        }

        await next(http);
    }

    /// <summary>Charges the request to its bucket and sets the RateLimit headers: the 429 to send (or null), and what Redis said of the token's revocation.</summary>
    private async Task<(IResult? Limited, bool? Revoked)> RateLimitAsync(HttpContext http, GatewayFeature feature, Endpoint? endpoint, RevocationProbe? probe, CancellationToken ct)
    {
        if (!_options.Enabled)
            return (null, null);
        var policyName = endpoint?.Metadata.GetMetadata<RateLimitClass>()?.Policy
            ?? (feature.Principal is null ? GatewayDefaults.AnonymousPolicy : GatewayDefaults.ApiPolicy);
        var policy = _options.Policy(policyName);
        var subject = feature.Principal?.BucketSubject ?? "ip:" + (feature.ClientIp?.ToString() ?? "unknown");
        var (decision, revoked) = await limiter.AcquireAsync(policy, subject, null, probe, ct);
        http.Response.Headers["RateLimit-Policy"] = policy.HeaderItem;
        http.Response.Headers["RateLimit"] = decision.HeaderItem;
        if (decision.Allowed)
            return (null, revoked);
        feature.RateLimited = true;
        return (Problems.Result(StatusCodes.Status429TooManyRequests, "quota-exceeded", "Too many requests",
            $"The '{policy.Name}' quota is used up; retry after {decision.RetryAfterSeconds} s.", decision.RetryAfterSeconds,
            new Dictionary<string, object?> { ["violated-policies"] = new[] { policy.Name } }), revoked);
    }

    private async Task<Outcome<(Principal Principal, AccessTokenValidation? Bearer)>> AuthenticateAsync(string authorization, CancellationToken ct)
    {
        if (authorization.Length > AccessTokenService.MaxTokenBytes + 16)
            return new Failure(FailureKind.Unauthorized, "invalid-token", "Invalid credentials", "The Authorization header is too large.");
        var space = authorization.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space > 0 ? authorization[..space] : authorization;
        var value = space > 0 ? authorization[(space + 1)..].Trim() : "";
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) && value.Length > 0)
        {
            var validation = await identity.ValidateBearerAsync(value);
            return validation.Principal is { } principal
                ? (principal, validation)
                : new Failure(FailureKind.Unauthorized, "invalid-token", "Invalid access token", validation.Failure!);
        }

        if (scheme.Equals("ApiKey", StringComparison.OrdinalIgnoreCase) && value.Length > 0)
        {
            var key = await identity.AuthenticateApiKeyAsync(value, ct);
            return key.Succeeded ? (key.Value!, null) : key.Failure!;
        }

        return new Failure(FailureKind.Unauthorized, "invalid-token", "Invalid credentials", "Use 'Authorization: Bearer <access token>' or 'Authorization: ApiKey <key>'.");
    }

    private static IResult Challenge(HttpContext http, string slug, string title, string detail)
    {
        // RFC 6750 §3: tell the client which scheme and why, without echoing the credential.
        http.Response.Headers[HeaderNames.WWWAuthenticate] = slug == "invalid-token"
            ? "Bearer error=\"invalid_token\", ApiKey"
            : "Bearer, ApiKey";
        return Problems.Result(StatusCodes.Status401Unauthorized, slug, title, detail);
    }

    private IPAddress? ResolveClientIp(HttpContext http)
    {
        if (_trustForwardedFor && http.Request.Headers["X-Forwarded-For"].ToString() is { Length: > 0 and < 1024 } forwarded)
        {
            // The right-most entry is the one the nearest trusted proxy appended; anything left of it the client could forge.
            var last = forwarded[(forwarded.LastIndexOf(',') + 1)..].Trim();
            if (IPEndPoint.TryParse(last, out var endpoint))
                return endpoint.Address;
            if (IPAddress.TryParse(last, out var address))
                return address;
        }

        var remote = http.Connection.RemoteIpAddress;
        return remote is { IsIPv4MappedToIPv6: true } ? remote.MapToIPv4() : remote;
    }

    [LoggerMessage(EventId = 5300, Level = LogLevel.Error, Message = "Endpoint {Endpoint} declares no access policy; refused")]
    private static partial void LogUndeclared(ILogger logger, string endpoint);

    /// <summary>
    /// Counts response bytes by wrapping the response body feature's PipeWriter (and Stream), so responses keep
    /// Kestrel's pipe path instead of falling back to a stream adapter; restored afterwards.
    /// </summary>
    private sealed class CountingBody : IHttpResponseBodyFeature
    {
        private readonly HttpContext _http;
        private readonly IHttpResponseBodyFeature _inner;
        private readonly CountingWriter _writer;
        private Stream? _stream;

        public CountingBody(HttpContext http)
        {
            _http = http;
            _inner = http.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
            _writer = new CountingWriter(_inner.Writer);
            http.Features.Set<IHttpResponseBodyFeature>(this);
        }

        public long Written => _writer.Count;

        public Stream Stream => _stream ??= new CountingStream(_inner.Stream, _writer);

        public System.IO.Pipelines.PipeWriter Writer => _writer;

        public void Restore() => _http.Features.Set(_inner);

        public void DisableBuffering() => _inner.DisableBuffering();

        public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

        public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
        {
            _writer.Count += count ?? Math.Max(0, new FileInfo(path).Length - offset);
            return _inner.SendFileAsync(path, offset, count, cancellationToken);
        }

        public Task CompleteAsync() => _inner.CompleteAsync();
    }

    private sealed class CountingWriter(System.IO.Pipelines.PipeWriter inner) : System.IO.Pipelines.PipeWriter
    {
        public long Count { get; set; }

        public override void Advance(int bytes)
        {
            Count += bytes;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<System.IO.Pipelines.FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;
    }

    private sealed class CountingStream(Stream inner, CountingWriter counter) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            counter.Count += count;
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            counter.Count += buffer.Length;
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            counter.Count += count;
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }
    }
}
