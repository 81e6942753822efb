using Azure.Identity;
using Microsoft.Extensions.Options;
using Npgsql;
using Sentinel.Core.Storage;
using Sentinel.Core.Storage.Tables;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Diagnostics;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Health;
using Sentinel.Functions.Http;
using Sentinel.Functions.Standalone;

namespace Sentinel.Functions.Hosting;

internal static class FoundationServices
{
    /// <summary>The plumbing every feature uses: options validated at start, one data source, one Redis multiplexer,
    /// the Table client, a <see cref="TimeProvider"/>, problem details, the function registry and the dispatcher.</summary>
    public static IServiceCollection AddSentinelFoundation(this IServiceCollection services, HostMode mode, TimeProvider time)
    {
        services.AddSingleton(time);
        services.AddSingleton(new HostInfo(mode, time.GetUtcNow()));
        services.AddSentinelProblems();
        services.AddSettings<HostingOptions>()
            .Validate(o => o.PublicUrl is null || (o.PublicUrl.IsAbsoluteUri && o.PublicUrl.Scheme is "https" or "http"), "Hosting:PublicUrl is an absolute http(s) URL, e.g. https://sentinel.example.com.")
            .ValidateOnStart();
        services.AddHttpClient(HttpEnvelopeFunction.ClientName);

        services.AddSettings<TablesIdentityOptions>();
        services.AddSettings<StorageOptions>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();

        services.AddSingleton(sp =>
        {
            var builder = new NpgsqlDataSourceBuilder(sp.GetRequiredService<IOptions<StorageOptions>>().Value.Postgres);
            // Fail fast rather than hold an invocation for Npgsql's default 15 s when the server is gone.
            if (builder.ConnectionStringBuilder.Timeout == 15)
                builder.ConnectionStringBuilder.Timeout = 5;
            builder.ConnectionStringBuilder.ApplicationName ??= "sentinel-functions";
            // The hot paths (relay ingress, ingest, the outbox) run the same few statements all day: prepared once per
            // connection they skip parsing and planning. Set "Max Auto Prepare=0" in the connection string when a
            // transaction-mode pooler without prepared-statement support sits in front of the server.
            if (!builder.ConnectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
            {
                builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
                builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
            }

            builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return builder.Build();
        });
        services.AddSingleton(sp => new RedisConnection(sp.GetRequiredService<IOptions<StorageOptions>>().Value.Redis!));
        services.AddSingleton(sp =>
        {
            var storage = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            var identity = sp.GetRequiredService<IOptions<TablesIdentityOptions>>().Value;
            return string.IsNullOrWhiteSpace(storage.Tables)
                ? new TableServiceClient(TableStorageAccount.ForIdentity(identity.Endpoint!), new ManagedIdentityCredential(
                    string.IsNullOrEmpty(identity.ClientId) ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(identity.ClientId)), time)
                : new TableServiceClient(TableStorageAccount.Parse(storage.Tables), null, time);
        });
        services.AddSingleton<PostgresMigrator>();
        services.AddSettings<MigrationOptions>()
            .Validate(o => o.StartTimeout > TimeSpan.Zero && o.RetryInterval > TimeSpan.Zero, "Migrations: StartTimeout and RetryInterval are positive.")
            .ValidateOnStart();
        services.AddSingleton<SchemaState>();
        // First hosted service: the schema is current before the others start.
        services.AddHostedService<StartupMigrations>();
        services.AddSingleton<RejectedEventStore>();
        services.AddSingleton<DependencyChecks>();

        services.AddSingleton<SentinelMetrics>();
        services.AddSingleton<InvocationDispatcher>();
        services.AddSentinelFunctions();

        if (mode == HostMode.Standalone)
        {
            services.AddSettings<StandaloneOptions>()
                .Validate(o => o.EventHubKey is { Length: >= 16 }, "Standalone:EventHubKey (app setting Standalone__EventHubKey) must be set to a key of at least 16 characters.")
                .Validate(o => o.Partitions is >= 1 and <= 32, "Standalone:Partitions must be between 1 and 32.")
                .Validate(o => o.MaxEventsPerInvocation is >= 1 and <= 1000, "Standalone:MaxEventsPerInvocation must be between 1 and 1000.")
                .ValidateOnStart();
            services.AddSingleton<EventHubsEmulator>();
            services.AddSingleton<TimerScheduler>();
            services.AddHostedService(sp => sp.GetRequiredService<TimerScheduler>());
        }

        return services;
    }

    /// <summary>Registers each function's handler under its name, from the registry.</summary>
    private static void AddSentinelFunctions(this IServiceCollection services)
    {
        foreach (var f in FunctionRegistry.All)
        {
            var contract = f.Trigger switch
            {
                EventHubTrigger => typeof(IEventHubFunction),
                TimerTrigger => typeof(ITimerFunction),
                HttpTrigger => typeof(IHttpEnvelopeFunction),
                _ => throw new InvalidOperationException($"No handler contract for {f.Trigger.GetType().Name}."),
            };
            if (f.Handler is not null)
                services.AddKeyedSingleton(contract, f.Name, f.Handler);
        }
    }
}
