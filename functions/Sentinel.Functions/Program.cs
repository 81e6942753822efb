using Microsoft.Extensions.Options;
using Sentinel.Core.Storage;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;

var command = Command.Parse(args);
switch (command.Verb)
{
    case Verb.Serve:
        var app = SentinelApp.Build(command.Standalone ? HostMode.Standalone : HostMode.Functions, command.Rest);
        await app.RunAsync();
        return 0;

    case Verb.Metadata:
        foreach (var path in FunctionMetadataWriter.WriteAll(FunctionRegistry.All, command.OutputDirectory!))
            Console.WriteLine(path);
        return 0;

    case Verb.Migrate:
        // The same services as serve (configuration, validated options, data source), without listening.
        await using (var migrateApp = SentinelApp.Build(HostMode.Functions, [.. command.Rest, "--urls", "http://127.0.0.1:0"]))
        {
            _ = migrateApp.Services.GetRequiredService<IOptions<StorageOptions>>().Value;
            var report = await migrateApp.Services.GetRequiredService<PostgresMigrator>().MigrateAsync(CancellationToken.None);
            Console.WriteLine($"migrations: {report.Applied.Count} applied, {report.AlreadyApplied} already present");
        }

        return 0;

    default:
        if (command.Error is not null)
            Console.Error.WriteLine(command.Error);
        Console.Error.WriteLine(Command.Usage);
        return command.Error is null ? 0 : 2;
}
