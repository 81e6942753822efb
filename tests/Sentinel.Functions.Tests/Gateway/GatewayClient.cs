using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Sentinel.Functions.Tests.Gateway;

/// <summary>Small helpers for talking to the gateway over real HTTP.</summary>
internal static class GatewayClient
{
    public const string Password = "correct horse battery staple";

    public static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(
        this HttpClient client, HttpMethod method, string path, object? body = null, string? authorization = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
            request.Content = JsonContent.Create(body);
        if (authorization is not null)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, json, response);
    }

    public static async Task<(string AccessToken, string RefreshToken, string TenantId, string UserId)> SignupAsync(this HttpClient client, string? email = null)
    {
        var (status, body, _) = await client.SendAsync(HttpMethod.Post, "/api/auth/signup",
            new { tenantName = "Acme", email = email ?? Email(), password = Password, displayName = "Ada" });
        if (status != HttpStatusCode.Created)
            throw new InvalidOperationException($"signup answered {(int)status}: {body}");
        return (body.GetProperty("access_token").GetString()!, body.GetProperty("refresh_token").GetString()!,
            body.GetProperty("user").GetProperty("tenantId").GetString()!, body.GetProperty("user").GetProperty("id").GetString()!);
    }

    /// <summary>A viewer of the owner's tenant, signed in; returns its Authorization header value.</summary>
    public static async Task<string> ViewerAsync(this HttpClient client, string ownerAuth)
    {
        var email = Email();
        await client.SendAsync(HttpMethod.Post, "/api/users", new { email, role = "viewer", password = Password }, ownerAuth);
        var (_, login, _) = await client.SendAsync(HttpMethod.Post, "/api/auth/token", new { email, password = Password });
        return Bearer(login.GetProperty("access_token").GetString()!);
    }

    public static string Email() => $"u{Guid.NewGuid():N}@example.com";

    public static string Bearer(string token) => "Bearer " + token;

    /// <summary>Asserts an RFC 9457 answer with our type and the status.</summary>
    public static void AssertProblem(HttpStatusCode expected, string slug, (HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response) answer)
    {
        Assert.Equal(expected, answer.Status);
        Assert.Equal("application/problem+json", answer.Response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:problem:sentinel:" + slug, answer.Body.GetProperty("type").GetString());
        Assert.Equal((int)expected, answer.Body.GetProperty("status").GetInt32());
    }

    public static MediaTypeHeaderValue Json => new("application/json");
}
