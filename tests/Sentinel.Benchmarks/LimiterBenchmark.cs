using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Core.RateLimiting;
using Sentinel.Core.Storage;
using StackExchange.Redis;

namespace Sentinel.Benchmarks;

/// <summary>
/// Limiter decisions per second through the app's <see cref="RateLimiter"/> (multiplexed StackExchange.Redis, 50
/// concurrent callers, 10,000 keys) against <c>redis-benchmark</c> running the same Lua script by EVALSHA with the same
/// concurrency and key spread, on the same Redis, alternating three rounds each. Goal: ≥ 0.7 of redis-benchmark.
/// </summary>
internal static partial class LimiterBenchmark
{
    private const int Concurrency = 50;
    private const int Requests = 200_000;
    private const int KeySpace = 10_000;

    public static async Task RunAsync()
    {
        var connection = Bench.Env("ConnectionStrings__Redis");
        var endpoint = ConfigurationOptions.Parse(connection).EndPoints[0].ToString()!;
        var host = endpoint[..endpoint.LastIndexOf(':')];
        var port = endpoint[(endpoint.LastIndexOf(':') + 1)..];
        await using var redis = new RedisConnection(connection);
        var multiplexer = await redis.GetAsync(CancellationToken.None);
        var sha = Convert.ToHexStringLower((byte[])multiplexer.GetServer(multiplexer.GetEndPoints()[0]).ScriptLoad(RateLimiter.Script));
        var keys = new RedisKeys("bench:" + Guid.NewGuid().ToString("N")[..8] + ":");
        var limiter = new RateLimiter(redis, keys, TimeProvider.System, NullLogger<RateLimiter>.Instance);
        var policy = new RateLimitPolicy { Name = "bench", Capacity = 1e9, RefillPerSecond = 1e6 };
        var subjects = Enumerable.Range(0, KeySpace).Select(i => "subject-" + i.ToString(CultureInfo.InvariantCulture)).ToArray();

        await AppAsync(limiter, policy, subjects, 20_000); // warm-up: JIT, script cache, connections
        var app = new List<double>();
        var baseline = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            baseline.Add(await RedisBenchmarkAsync(host, port, sha));
            app.Add(await AppAsync(limiter, policy, subjects, Requests));
        }

        var a = Bench.Median(app);
        var b = Bench.Median(baseline);
        Console.WriteLine($"rate limiter: token-bucket decisions/s, {Requests:N0} per round, {Concurrency} concurrent, {KeySpace:N0} keys, median of 3:");
        Console.WriteLine($"  app limiter (RateLimiter -> EVALSHA via StackExchange.Redis): {a,10:N0}/s   rounds {string.Join(", ", app.Select(x => x.ToString("N0", CultureInfo.InvariantCulture)))}");
        Console.WriteLine($"  baseline (redis-benchmark, same script, EVALSHA)            : {b,10:N0}/s   rounds {string.Join(", ", baseline.Select(x => x.ToString("N0", CultureInfo.InvariantCulture)))}");
        Console.WriteLine($"  ratio app/redis-benchmark: {a / b:F2}   goal >= 0.70 -> {(a / b >= 0.7 ? "met" : "NOT met")}   (fail-open decisions during the run: {limiter.FailOpenDecisions})");
        Console.WriteLine();
    }

    private static async Task<double> AppAsync(RateLimiter limiter, RateLimitPolicy policy, string[] subjects, int total)
    {
        var next = -1;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            var random = new Random();
            while (Interlocked.Increment(ref next) < total)
                await limiter.AcquireAsync(policy, subjects[random.Next(subjects.Length)], null, CancellationToken.None);
        }));
        return total / watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> RedisBenchmarkAsync(string host, string port, string sha)
    {
        var args = new[]
        {
            "-h", host, "-p", port, "-c", Concurrency.ToString(CultureInfo.InvariantCulture), "-n", Requests.ToString(CultureInfo.InvariantCulture),
            "-r", KeySpace.ToString(CultureInfo.InvariantCulture), "-q",
            "EVALSHA", sha, "1", "bench:rb:__rand_int__", "1000000000", "1000000", "1", "0",
        };
        var info = new ProcessStartInfo("redis-benchmark") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var matches = RequestsPerSecond().Matches(output);
        if (matches.Count == 0)
            throw new InvalidOperationException("redis-benchmark printed no rate: " + output);
        return double.Parse(matches[^1].Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"([\d.]+) requests per second")]
    private static partial Regex RequestsPerSecond();
}
