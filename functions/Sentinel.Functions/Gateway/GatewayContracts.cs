using System.Text.Json;
using System.Text.Json.Serialization;
using Sentinel.Core.Identity;
using Sentinel.Core.RequestLog;

namespace Sentinel.Functions.Gateway;

// Request and response bodies of the gateway's endpoints. Requests are all-nullable so a missing field is a
// 422 naming it, not a deserialization error; token responses use OAuth 2.0's field names (RFC 6749 §5.1).

internal sealed record SignupRequest(string? TenantName, string? Email, string? Password, string? DisplayName);

internal sealed record TokenRequest(string? Email, string? Password);

internal sealed record RefreshRequest(string? RefreshToken);

internal sealed record AcceptInvitationRequest(string? Invitation, string? Password);

internal sealed record TokenResponse(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("refresh_token")] string RefreshToken,
    [property: JsonPropertyName("refresh_token_expires_at")] DateTimeOffset RefreshTokenExpiresAt,
    [property: JsonPropertyName("user")] UserView User);

internal sealed record UserView(string Id, string TenantId, string Email, string DisplayName, string Role, bool Disabled, bool InvitationPending, DateTimeOffset CreatedAt)
{
    public static UserView From(UserRecord u) => new(u.Id, u.TenantId, u.Email, u.DisplayName, u.Role.ToName(), u.Disabled, u.PasswordHash is null, u.CreatedAt);
}

internal sealed record MeResponse(string TenantId, string SubjectId, string Kind, string Role, IReadOnlyList<string> Scopes, UserView? User, string? TenantName);

internal sealed record SessionResponse(string TenantId, string SubjectId, string Kind, string Role, IReadOnlyList<string> Scopes, string? SessionId, DateTimeOffset? ExpiresAt);

internal sealed record CreateUserRequest(string? Email, string? Role, string? DisplayName, string? Password);

internal sealed record CreatedUserResponse(UserView User, string? Invitation, DateTimeOffset? InvitationExpiresAt);

internal sealed record UpdateUserRequest(string? Role, bool? Disabled, string? DisplayName);

internal sealed record UserList(IReadOnlyList<UserView> Users);

internal sealed record CreateApiKeyRequest(string? Name, IReadOnlyList<string>? Scopes, int? ExpiresInDays);

internal sealed record ApiKeyView(string Id, string Prefix, string Name, IReadOnlyList<string> Scopes, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt)
{
    public static ApiKeyView From(ApiKeyRecord k) => new(k.Id, k.Prefix, k.Name, k.Scopes, k.CreatedBy, k.CreatedAt, k.ExpiresAt, k.RevokedAt);
}

internal sealed record CreatedApiKeyResponse(ApiKeyView ApiKey, string Key);

internal sealed record ApiKeyList(IReadOnlyList<ApiKeyView> ApiKeys);

internal sealed record RateLimitCheckRequest(string? Policy, string? Key, double? Cost);

internal sealed record RateLimitCheckResponse(bool Allowed, string Policy, long Limit, long Remaining, double ResetSeconds, double RetryAfterSeconds);

internal sealed record JsonWebKeySet([property: JsonPropertyName("keys")] IReadOnlyList<JsonWebKeyDocument> Keys);

internal sealed record OpenIdConfiguration(
    [property: JsonPropertyName("issuer")] string Issuer,
    [property: JsonPropertyName("jwks_uri")] string JwksUri,
    [property: JsonPropertyName("token_endpoint")] string TokenEndpoint,
    [property: JsonPropertyName("grant_types_supported")] IReadOnlyList<string> GrantTypesSupported,
    [property: JsonPropertyName("response_types_supported")] IReadOnlyList<string> ResponseTypesSupported,
    [property: JsonPropertyName("subject_types_supported")] IReadOnlyList<string> SubjectTypesSupported,
    [property: JsonPropertyName("id_token_signing_alg_values_supported")] IReadOnlyList<string> IdTokenSigningAlgValuesSupported,
    [property: JsonPropertyName("token_endpoint_auth_methods_supported")] IReadOnlyList<string> TokenEndpointAuthMethodsSupported,
    [property: JsonPropertyName("claims_supported")] IReadOnlyList<string> ClaimsSupported);

/// <summary>Source-generated JSON for the gateway (camelCase, as the rest of the API).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(SignupRequest))]
[JsonSerializable(typeof(TokenRequest))]
[JsonSerializable(typeof(RefreshRequest))]
[JsonSerializable(typeof(AcceptInvitationRequest))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(MeResponse))]
[JsonSerializable(typeof(SessionResponse))]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(CreatedUserResponse))]
[JsonSerializable(typeof(UpdateUserRequest))]
[JsonSerializable(typeof(UserView))]
[JsonSerializable(typeof(UserList))]
[JsonSerializable(typeof(CreateApiKeyRequest))]
[JsonSerializable(typeof(CreatedApiKeyResponse))]
[JsonSerializable(typeof(ApiKeyView))]
[JsonSerializable(typeof(ApiKeyList))]
[JsonSerializable(typeof(RateLimitCheckRequest))]
[JsonSerializable(typeof(RateLimitCheckResponse))]
[JsonSerializable(typeof(JsonWebKeySet))]
[JsonSerializable(typeof(OpenIdConfiguration))]
[JsonSerializable(typeof(GatewayStatsReport))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
