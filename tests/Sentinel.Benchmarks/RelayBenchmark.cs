using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Sentinel.Core.Relay;

namespace Sentinel.Benchmarks;

/// <summary>
/// Evolution webhooks into the relay (<c>serve --standalone</c>, a separate process, real PostgreSQL, Redis, Azurite):
/// each request is a unique <c>messages.upsert</c> with a valid jwt_key token, so each one is authenticated, parsed,
/// de-duplicated (Redis, then the unique constraint) and committed with its n8n delivery before the 2xx. The baseline is
/// a bare Kestrel endpoint in its own process that only reads the body and answers the same-sized JSON. The same
/// closed-loop load (16 connections) gives each one's throughput; an open loop at fixed rates (50, 100, 200/s) gives
/// the acknowledgement latency below saturation. End to end: deliveries per second to a local receiver standing in for
/// n8n, from the first webhook to the last delivery, against the rate the webhooks were accepted at.
/// Goals: acknowledgement p99 ≤ 10 ms on loopback; deliveries keep up with acceptance.
/// </summary>
internal static class RelayBenchmark
{
    private const int Connections = 16;
    private const int Rounds = 2;
    private static readonly TimeSpan Warmup = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(10);
    private const string JwtKey = "bench-evolution-jwt-key-0123456789";
    private static readonly string Template = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "payloads", "relay", "evolution-text.json"));

    private sealed record Result(string Name, long Requests, double Rps, double P50, double P99, long Errors, TimeSpan Elapsed);

    /// <summary>The fixed arrival rates the acknowledgement latency is measured at (open loop: a slow answer does not slow the sender).</summary>
    private static readonly int[] Rates = [50, 100, 200];

    public static async Task RunAsync(string handlerDll)
    {
        var receiver = await Receiver.StartAsync();
        var bare = new List<Result>();
        var relay = new List<Result>();
        var bareAtRate = new List<Result[]>();
        var relayAtRate = new List<Result[]>();
        var endToEnd = new List<(double Accepted, double Delivered, double DrainSeconds)>();
        for (var round = 0; round < Rounds; round++)
        {
            var (b1, b2) = await BareAsync();
            bare.Add(b1);
            bareAtRate.Add(b2);
            var (r, atRate, e2e) = await RelayAsync(handlerDll, receiver, round);
            relay.Add(r);
            relayAtRate.Add(atRate);
            endToEnd.Add(e2e);
        }

        await receiver.DisposeAsync();
        var b = Summarize("bare Kestrel, reads the body (baseline)", bare);
        var h = Summarize("relay: auth + parse + dedupe + commit", relay);
        Console.WriteLine($"relay ingress: closed loop, {Connections} connections, {Duration.TotalSeconds:0} s after {Warmup.TotalSeconds:0} s warm-up, median of {Rounds} interleaved rounds, same machine as the servers:");
        Console.WriteLine($"  {"",-40} {"req/s",9} {"p50 ms",8} {"p99 ms",8} {"ratio",6} {"errors",7}");
        foreach (var r in new[] { b, h })
            Console.WriteLine($"  {r.Name,-40} {r.Rps,9:N0} {r.P50,8:F2} {r.P99,8:F2} {r.Rps / b.Rps,6:F2} {r.Errors,7}");
        Console.WriteLine($"  (a closed loop runs at saturation: its latency is queueing, connections / throughput)");
        Console.WriteLine($"relay acknowledgement latency: open loop at fixed rates for {Duration.TotalSeconds:0} s each (latency from each request's scheduled time), median of {Rounds}:");
        Console.WriteLine($"  {"webhooks/s",10} {"bare p50",9} {"bare p99",9} {"relay p50",10} {"relay p99",10} {"errors",7}   goal: relay p99 <= 10 ms on loopback");
        for (var i = 0; i < Rates.Length; i++)
        {
            var br = Summarize("bare", bareAtRate.Select(r => r[i]).ToList());
            var hr = Summarize("relay", relayAtRate.Select(r => r[i]).ToList());
            Console.WriteLine($"  {Rates[i],10} {br.P50,9:F2} {br.P99,9:F2} {hr.P50,10:F2} {hr.P99,10:F2} {hr.Errors + br.Errors,7}   -> {(hr.P99 <= 10 ? "met" : "NOT met")}");
        }

        var accepted = Bench.Median(endToEnd.Select(e => e.Accepted));
        var delivered = Bench.Median(endToEnd.Select(e => e.Delivered));
        Console.WriteLine($"relay end to end (webhook -> committed -> POSTed to a local receiver, Standard Webhooks signed, attempt recorded), median of {Rounds}:");
        Console.WriteLine($"  accepted {accepted,9:N0} webhooks/s; delivered {delivered,9:N0} deliveries/s (first webhook to last delivery); ratio delivered/accepted {delivered / accepted:F2}; " +
                          $"backlog drained {Bench.Median(endToEnd.Select(e => e.DrainSeconds)):F1} s after the load stopped");
        Console.WriteLine();
    }

    private static Result Summarize(string name, List<Result> rounds) => new(name, rounds.Sum(r => r.Requests), Bench.Median(rounds.Select(r => r.Rps)),
        Bench.Median(rounds.Select(r => r.P50)), Bench.Median(rounds.Select(r => r.P99)), rounds.Sum(r => r.Errors), TimeSpan.Zero);

    private static async Task<(Result Closed, Result[] AtRates)> BareAsync()
    {
        var (process, root) = await Bench.StartBareServerAsync();
        try
        {
            var uri = new Uri(root, "/bare-webhook");
            var closed = await LoadAsync("bare", uri, "bare", "");
            var atRates = new Result[Rates.Length];
            for (var i = 0; i < Rates.Length; i++)
                atRates[i] = await AtRateAsync("bare", uri, "bare", "", Rates[i]);
            return (closed, atRates);
        }
        finally
        {
            await Bench.StopAsync(process);
        }
    }

    private static async Task<(Result Closed, Result[] AtRates, (double, double, double) EndToEnd)> RelayAsync(string dll, Receiver receiver, int round)
    {
        await using var handler = await Bench.StartHandlerAsync(dll, new Dictionary<string, string>
        {
            // The limiter stays in the path (its cost is measured) but never refuses.
            ["RateLimiting__Policies__webhook__Capacity"] = "1000000000",
            ["RateLimiting__Policies__webhook__RefillPerSecond"] = "1000000",
        }, migrate: round == 0);
        var token = await handler.SignupAsync();
        var instance = "bench-" + Guid.NewGuid().ToString("N")[..8];
        using (var admin = new HttpClient { BaseAddress = handler.Root })
        {
            admin.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer " + token);
            using var created = await admin.PostAsJsonAsync("/api/relay/routes", new
            {
                instance,
                auth = new { mode = "jwt", jwtKey = JwtKey },
                evolution = new { baseUrl = receiver.Url + "/evolution", apiKey = "bench-evolution-key" },
                n8n = new { url = receiver.Url + "/n8n", ordered = true },
            });
            created.EnsureSuccessStatusCode();
        }

        var jwt = "Bearer " + EvolutionWebhook.CreateJwt(JwtKey, TimeProvider.System.GetUtcNow());
        var uri = new Uri(handler.Root, $"/api/relay/evolution/{instance}");
        var before = receiver.Count;
        var watch = Stopwatch.StartNew();
        var result = await LoadAsync("relay", uri, instance, jwt);
        var loadEnded = watch.Elapsed;
        // Every accepted webhook (warm-up included) is delivered once; wait for the last one.
        var expected = before + result.Requests;
        while (receiver.Count < expected && watch.Elapsed < loadEnded + TimeSpan.FromMinutes(2))
            await Task.Delay(20);
        var total = watch.Elapsed;
        var delivered = receiver.Count - before;

        // Then, warm and with an empty outbox, the acknowledgement latency at fixed rates.
        var atRate = new Result[Rates.Length];
        for (var i = 0; i < Rates.Length; i++)
        {
            var start = receiver.Count;
            atRate[i] = await AtRateAsync("relay", uri, instance, jwt, Rates[i]);
            var settle = Stopwatch.StartNew();
            while (receiver.Count - start < atRate[i].Requests && settle.Elapsed < TimeSpan.FromMinutes(1))
                await Task.Delay(50);
        }

        return (result, atRate, (result.Requests / loadEnded.TotalSeconds, delivered / total.TotalSeconds, (total - loadEnded).TotalSeconds));
    }

    /// <summary>Closed loop; every request a new message (its own key.id) in one of 500 conversations.</summary>
    private static async Task<Result> LoadAsync(string name, Uri uri, string instance, string authorization)
    {
        var next = Bodies(instance);
        var loop = await Bench.ClosedLoopAsync(Connections, Warmup, Duration, authorization, async (client, n) =>
        {
            using var content = new ByteArrayContent(next(n));
            content.Headers.ContentType = new("application/json");
            using var response = await client.PostAsync(uri, content);
            return response.IsSuccessStatusCode;
        });
        return new Result(name, loop.Calls - loop.Errors, loop.Rps, Bench.Percentile(loop.Latencies, 0.50), Bench.Percentile(loop.Latencies, 0.99), loop.Errors, Duration);
    }

    /// <summary>Open loop: requests start at a fixed rate whatever the answers do; latency counts from each one's scheduled start.</summary>
    private static async Task<Result> AtRateAsync(string name, Uri uri, string instance, string authorization, int rate)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var client = new HttpClient(handler);
        if (authorization.Length > 0)
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        var next = Bodies(instance);
        var total = (int)(rate * Duration.TotalSeconds);
        var latencies = new double[total];
        long errors = 0;
        var tasks = new Task[total];
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
            while (Stopwatch.GetTimestamp() < due)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.FromMilliseconds(2))
                    await Task.Delay(wait - TimeSpan.FromMilliseconds(1));
                else
                    await Task.Yield();
            }

            var index = i;
            var body = next(1_000_000 + i);
            tasks[i] = Task.Run(async () =>
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new("application/json");
                using var response = await client.PostAsync(uri, content);
                if (!response.IsSuccessStatusCode)
                    Interlocked.Increment(ref errors);
                latencies[index] = Stopwatch.GetElapsedTime(due).TotalMilliseconds;
            });
        }

        await Task.WhenAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(start);
        var sorted = latencies.Order().ToList();
        return new Result(name, total - errors, total / elapsed.TotalSeconds, Bench.Percentile(sorted, 0.50), Bench.Percentile(sorted, 0.99), errors, elapsed);
    }

    /// <summary>Unique messages.upsert bodies for an instance: message n has its own key.id, in one of 500 conversations.</summary>
    private static Func<long, byte[]> Bodies(string instance)
    {
        var prefix = Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var template = Template.Replace("\"sales-bot\"", $"\"{instance}\"", StringComparison.Ordinal);
        return n => Encoding.UTF8.GetBytes(template
            .Replace("3EB0A1C2D3E4F5A6B7C8", prefix + n.ToString("D12", CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("5511977776666@s", "5511" + (n % 500).ToString("D9", CultureInfo.InvariantCulture) + "@s", StringComparison.Ordinal));
    }

    /// <summary>The local receiver standing in for n8n: counts, answers 200.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private long _count;

        private Receiver(WebApplication app, string url) => (_app, Url) = (app, url);

        public string Url { get; }

        public long Count => Interlocked.Read(ref _count);

        public static async Task<Receiver> StartAsync()
        {
            var port = Bench.FreePort();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            var app = builder.Build();
            Receiver? self = null;
            app.MapPost("/n8n", async (HttpContext http) =>
            {
                using var doc = await JsonDocument.ParseAsync(http.Request.Body);
                Interlocked.Increment(ref self!._count);
                return Results.Text("""{"message":"Workflow was started"}""", "application/json");
            });
            await app.StartAsync();
            self = new Receiver(app, $"http://127.0.0.1:{port}");
            return self;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
