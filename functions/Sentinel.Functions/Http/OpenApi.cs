using Microsoft.OpenApi;
using Sentinel.Functions.Gateway;

namespace Sentinel.Functions.Http;

/// <summary>
/// <c>GET /api/openapi.json</c>: the OpenAPI 3.1 description of every API endpoint, generated from the endpoints
/// themselves (Microsoft.AspNetCore.OpenApi), with each operation's access requirement, its security schemes and the
/// problem+json answers it can give (types listed in docs/problems.md).
/// </summary>
internal static class OpenApi
{
    public const string DocumentPath = "/api/openapi.json";

    public static IServiceCollection AddSentinelOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", o =>
        {
            o.ShouldInclude = d => d.RelativePath is { } path && (path.StartsWith("api/", StringComparison.Ordinal) || path.StartsWith(".well-known", StringComparison.Ordinal));
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Sentinel Serverless API",
                    Version = typeof(OpenApi).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
                    Description = "Gateway, relay and monitoring control plane. Errors are RFC 9457 application/problem+json with type "
                        + $"URNs {Problems.TypePrefix}{{slug}}; every response carries the IETF RateLimit-Policy and RateLimit headers.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "JWT", Description = "ES256 access token from /api/auth/token." };
                document.Components.SecuritySchemes["apiKey"] = new OpenApiSecurityScheme { Type = SecuritySchemeType.ApiKey, In = ParameterLocation.Header, Name = "Authorization", Description = "'ApiKey snt_…' for machine clients." };
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                var access = context.Description.ActionDescriptor.EndpointMetadata.OfType<AccessPolicy>().FirstOrDefault();
                operation.Description = ((operation.Description ?? "") + $" Access: {access?.Describe() ?? "undeclared"}.").Trim();
                operation.Responses ??= new OpenApiResponses();
                if (access is { Anonymous: false })
                {
                    operation.Security = [new OpenApiSecurityRequirement
                    {
                        [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [],
                        [new OpenApiSecuritySchemeReference("apiKey", context.Document)] = [],
                    }];
                    AddProblem(operation, "401", "unauthorized, invalid-token");
                    AddProblem(operation, "403", "forbidden");
                }

                AddProblem(operation, "400", "bad-request");
                AddProblem(operation, "429", "quota-exceeded (with Retry-After)");
                if (context.Description.HttpMethod is "POST" or "PATCH" or "PUT")
                {
                    AddProblem(operation, "413", "payload-too-large");
                    AddProblem(operation, "415", "unsupported-media-type");
                    AddProblem(operation, "422", "validation-failed");
                }

                return Task.CompletedTask;
            });
        });

    public static IEndpointRouteBuilder MapSentinelOpenApi(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi(DocumentPath).Anonymous().ExcludeFromDescription();
        return app;
    }

    private static void AddProblem(OpenApiOperation operation, string status, string types)
    {
        if (operation.Responses!.ContainsKey(status))
            return;
        operation.Responses[status] = new OpenApiResponse
        {
            Description = $"Problem details ({types}).",
            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new OpenApiMediaType() },
        };
    }
}
