namespace Sentinel.Functions.Hosting;

/// <summary>The verbs of <c>sentinel-functions</c>.</summary>
internal enum Verb
{
    Serve,
    Metadata,
    Migrate,
    Help,
}

/// <summary>A parsed command line: the verb, its own options, and the rest (passed on as configuration, e.g. <c>--urls</c>).</summary>
internal sealed record Command(Verb Verb, bool Standalone, string? OutputDirectory, string[] Rest, string? Error)
{
    public const string Usage = """
        sentinel-functions: the Sentinel Serverless function app (an Azure Functions custom handler).

          sentinel-functions [serve]              run under the Functions host (127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT)
          sentinel-functions serve --standalone   run without a host: HTTP, timers, Event Hubs send API, dashboard
          sentinel-functions metadata --out DIR   write DIR/<function>/function.json from the function registry
          sentinel-functions migrate              apply the database migrations (locked, idempotent)

        Settings come from environment variables (ConnectionStrings__Postgres, …), and in standalone mode
        also from ./local.settings.json; see the README's configuration table.
        """;

    public static Command Parse(string[] args)
    {
        var verb = Verb.Serve;
        var i = 0;
        if (args.Length > 0 && !args[0].StartsWith('-'))
        {
            verb = args[0] switch
            {
                "serve" => Verb.Serve,
                "metadata" => Verb.Metadata,
                "migrate" => Verb.Migrate,
                "help" => Verb.Help,
                _ => Verb.Help,
            };
            if (verb == Verb.Help && args[0] != "help")
                return new Command(Verb.Help, false, null, [], $"Unknown verb '{args[0]}'.");
            i = 1;
        }

        var standalone = false;
        string? output = null;
        var rest = new List<string>();
        for (; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--standalone" when verb == Verb.Serve:
                    standalone = true;
                    break;
                case "--out" when verb == Verb.Metadata:
                    if (i + 1 >= args.Length)
                        return new Command(Verb.Help, false, null, [], "--out needs a directory.");
                    output = args[++i];
                    break;
                case "-h" or "--help":
                    return new Command(Verb.Help, false, null, [], null);
                default:
                    rest.Add(args[i]);
                    break;
            }
        }

        if (verb == Verb.Metadata && output is null)
            return new Command(Verb.Help, false, null, [], "metadata needs --out DIR.");
        return new Command(verb, standalone, output, [.. rest], null);
    }
}
