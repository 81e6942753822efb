
namespace Sentinel.Benchmarks;

/// <summary>
/// Requests per second and latency through the real handler (<c>serve --standalone</c>, a separate process) on
/// <c>GET /api/auth/session</c> with a Bearer token — ES256 validation, the Redis revocation check, a Redis
/// token-bucket decision, the RateLimit headers and a request-log entry — against a bare Kestrel endpoint in its own
/// process answering a JSON body of the same size. The same closed-loop load (32 connections) drives each, and the
/// handler is also run with rate limiting and the request log switched off to show the p99 each layer adds.
/// Goal: the full path ≥ 0.5 of bare Kestrel's requests/s.
/// </summary>
internal static class GatewayBenchmark
{
    private const int Connections = 32;
    private const int Rounds = 3;
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(10);

    private sealed record Result(string Name, double Rps, double P50, double P99, long Errors);

    public static async Task RunAsync(string handlerDll)
    {
        // Two rounds of every variant, interleaved, and the median of each: one machine's noise hits them all alike.
        var rounds = new List<List<Result>>();
        for (var round = 0; round < Rounds; round++)
        {
            rounds.Add(
            [
                await BareAsync(),
                await HandlerAsync(handlerDll, "handler: anonymous, no limit, no log", rateLimit: false, log: false, anonymous: true),
                await HandlerAsync(handlerDll, "handler: auth only", rateLimit: false, log: false),
                await HandlerAsync(handlerDll, "handler: auth + rate limit", rateLimit: true, log: false),
                await HandlerAsync(handlerDll, "handler: auth + rate limit + log", rateLimit: true, log: true),
            ]);
        }

        var results = Enumerable.Range(0, rounds[0].Count).Select(i => new Result(
            rounds[0][i].Name,
            Bench.Median(rounds.Select(r => r[i].Rps)),
            Bench.Median(rounds.Select(r => r[i].P50)),
            Bench.Median(rounds.Select(r => r[i].P99)),
            rounds.Sum(r => r[i].Errors))).ToList();

        var bare = results[0];
        var full = results[^1];
        Console.WriteLine($"gateway: closed loop, {Connections} connections, {Duration.TotalSeconds:0} s after {Warmup.TotalSeconds:0} s warm-up, median of {Rounds} interleaved rounds, same machine as the servers:");
        Console.WriteLine($"  {"",-36} {"req/s",9} {"p50 ms",8} {"p99 ms",8} {"ratio",6} {"errors",7}");
        foreach (var r in results)
            Console.WriteLine($"  {r.Name,-36} {r.Rps,9:N0} {r.P50,8:F2} {r.P99,8:F2} {r.Rps / bare.Rps,6:F2} {r.Errors,7}");
        Console.WriteLine($"  p99 added: handler pipeline {results[1].P99 - bare.P99:+0.00;-0.00} ms, auth {results[2].P99 - results[1].P99:+0.00;-0.00} ms, rate limit {results[3].P99 - results[2].P99:+0.00;-0.00} ms, request log {results[4].P99 - results[3].P99:+0.00;-0.00} ms");
        Console.WriteLine($"  ratio full/bare Kestrel: {full.Rps / bare.Rps:F2}   goal >= 0.50 -> {(full.Rps / bare.Rps >= 0.5 ? "met" : "NOT met")}");
        Console.WriteLine();
    }

    private static async Task<Result> BareAsync()
    {
        var (process, root) = await Bench.StartBareServerAsync();
        try
        {
            return await LoadAsync("bare Kestrel (baseline)", new Uri(root, "/bare"), "Bearer x");
        }
        finally
        {
            await Bench.StopAsync(process);
        }
    }

    private static async Task<Result> HandlerAsync(string dll, string name, bool rateLimit, bool log, bool anonymous = false)
    {
        await using var handler = await Bench.StartHandlerAsync(dll, new Dictionary<string, string>
        {
            ["RateLimiting__Enabled"] = rateLimit ? "true" : "false",
            ["RateLimiting__Policies__api__Capacity"] = "1000000000",
            ["RateLimiting__Policies__api__RefillPerSecond"] = "1000000",
            ["RequestLog__Enabled"] = log ? "true" : "false",
        });
        var token = await handler.SignupAsync();
        return anonymous
            ? await LoadAsync(name, new Uri(handler.Root, "/api/version"), "")
            : await LoadAsync(name, new Uri(handler.Root, "/api/auth/session"), "Bearer " + token);
    }

    private static async Task<Result> LoadAsync(string name, Uri uri, string authorization)
    {
        var loop = await Bench.ClosedLoopAsync(Connections, Warmup, Duration, authorization, async (client, _) =>
        {
            using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseContentRead);
            return response.IsSuccessStatusCode;
        });
        return new Result(name, loop.Rps, Bench.Percentile(loop.Latencies, 0.50), Bench.Percentile(loop.Latencies, 0.99), loop.Errors);
    }
}
