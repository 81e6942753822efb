using System.Diagnostics;
using System.Net;
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
/// the response. Failed authentication is charged to the IP's bucket before it is refused.
/// </summary>
internal sealed partial class GatewayMiddleware(
    RequestDelegate next,
    IdentityService identity,
    RateLimiter limiter,
    RequestLogWriter requestLog,
    IOptions<RateLimitingOptions> rateLimiting,
    HostInfo host,
    TimeProvider time,
    ILogger<GatewayMiddleware> logger)
{
    private readonly RateLimitingOptions _options = rateLimiting.Value;
    private readonly bool _trustForwardedFor = rateLimiting.Value.TrustForwardedFor ?? host.Mode == HostMode.Functions;

    public static bool Applies(PathString path) =>
        path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/.well-known", StringComparison.OrdinalIgnoreCase);

    public async Task InvokeAsync(HttpContext http)
    {
        var started = Stopwatch.GetTimestamp();
        var feature = new GatewayFeature { ClientIp = ResolveClientIp(http) };
        http.Features.Set(feature);
        var counting = new CountingBody(http);
        try
        {
            await HandleAsync(http, feature);
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
                endpoint?.RoutePattern.RawText is { } pattern ? "/" + pattern.TrimStart('/') : "(unmatched)",
                http.Response.StatusCode,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                http.Request.ContentLength ?? 0,
                counting.Written,
                feature.RateLimited));
        }
    }

    private async Task HandleAsync(HttpContext http, GatewayFeature feature)
    {
        var ct = http.RequestAborted;
        var endpoint = http.GetEndpoint();
        var access = endpoint?.Metadata.GetMetadata<AccessPolicy>();

        Failure? authFailure = null;
        var authorization = http.Request.Headers.Authorization.ToString();
        if (authorization.Length > 0)
        {
            var outcome = await AuthenticateAsync(authorization, ct);
            if (outcome.Succeeded)
                feature.Principal = outcome.Value;
            else
                authFailure = outcome.Failure;
        }

        if (_options.Enabled)
        {
            var policyName = endpoint?.Metadata.GetMetadata<RateLimitClass>()?.Policy
                ?? (feature.Principal is null ? GatewayDefaults.AnonymousPolicy : GatewayDefaults.ApiPolicy);
            var policy = _options.Policy(policyName);
            var subject = feature.Principal is { } p ? p.TenantId + ":" + p.Name : "ip:" + (feature.ClientIp?.ToString() ?? "unknown");
            var decision = await limiter.AcquireAsync(policy, subject, null, ct);
            http.Response.Headers["RateLimit-Policy"] = policy.HeaderItem;
            http.Response.Headers["RateLimit"] = decision.HeaderItem;
            if (!decision.Allowed)
            {
                feature.RateLimited = true;
                await Problems.Result(StatusCodes.Status429TooManyRequests, "quota-exceeded", "Too many requests",
                    $"The '{policy.Name}' quota is used up; retry after {decision.RetryAfterSeconds} s.", decision.RetryAfterSeconds,
                    new Dictionary<string, object?> { ["violated-policies"] = new[] { policy.Name } }).ExecuteAsync(http);
                return;
            }
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

    private async Task<Outcome<Principal>> AuthenticateAsync(string authorization, CancellationToken ct)
    {
        if (authorization.Length > AccessTokenService.MaxTokenBytes + 16)
            return new Failure(FailureKind.Unauthorized, "invalid-token", "Invalid credentials", "The Authorization header is too large.");
        var space = authorization.IndexOf(' ', StringComparison.Ordinal);
        var scheme = space > 0 ? authorization[..space] : authorization;
        var value = space > 0 ? authorization[(space + 1)..].Trim() : "";
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) && value.Length > 0)
            return await identity.AuthenticateBearerAsync(value, ct);
        if (scheme.Equals("ApiKey", StringComparison.OrdinalIgnoreCase) && value.Length > 0)
            return await identity.AuthenticateApiKeyAsync(value, ct);
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

    /// <summary>Counts response bytes by wrapping the body stream (restored afterwards).</summary>
    private sealed class CountingBody : Stream
    {
        private readonly HttpContext _http;
        private readonly Stream _inner;

        public CountingBody(HttpContext http)
        {
            _http = http;
            _inner = http.Response.Body;
            http.Response.Body = this;
        }

        public long Written { get; private set; }

        public void Restore() => _http.Response.Body = _inner;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => _inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Written += count;
            _inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written += buffer.Length;
            return _inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Written += count;
            return _inner.WriteAsync(buffer, offset, count, cancellationToken);
        }
    }
}
