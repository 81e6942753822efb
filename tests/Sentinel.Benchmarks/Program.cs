using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Sentinel.Benchmarks;

// make bench: every figure is a ratio against a baseline measured in the same run.
//   coldstart  packaged handler vs `dotnet sentinel-functions.dll`
//   limiter    the app's Redis limiter vs redis-benchmark running the same Lua script
//   gateway    authenticated + rate-limited + logged requests through the handler vs a bare Kestrel endpoint
if (args.Length >= 2 && args[0] == "--bare-server")
{
    await BareKestrel.RunAsync(int.Parse(args[1], CultureInfo.InvariantCulture));
    return 0;
}

var only = ArgValue("--only");
if (only is null or "limiter")
    await LimiterBenchmark.RunAsync();
if (only is null or "gateway")
    await GatewayBenchmark.RunAsync(ArgValue("--dll") ?? throw new ArgumentException("--dll PATH (framework-dependent sentinel-functions.dll) is required"));
if (only is not (null or "coldstart"))
    return 0;

// Cold start of the handler: exec -> first 200 on GET / (what the Functions host polls every 25 ms before it
// sends any invocation). The packaged self-contained single-file ReadyToRun handler is measured against the same app
// started framework-dependent (`dotnet sentinel-functions.dll`), alternating runs in the same session.
Console.WriteLine();
var package = ArgValue("--package") ?? throw new ArgumentException("--package DIR (artifacts/functionapp) is required");
var frameworkDependent = ArgValue("--dll") ?? throw new ArgumentException("--dll PATH (framework-dependent sentinel-functions.dll) is required");
var runs = int.Parse(ArgValue("--runs") ?? "15", CultureInfo.InvariantCulture);

var packaged = new List<double>();
var baseline = new List<double>();
_ = await ColdStartAsync(Path.Combine(package, "sentinel-functions"), []); // warm the page cache for both, untimed
_ = await ColdStartAsync("dotnet", [frameworkDependent]);
for (var i = 0; i < runs; i++)
{
    packaged.Add(await ColdStartAsync(Path.Combine(package, "sentinel-functions"), []));
    baseline.Add(await ColdStartAsync("dotnet", [frameworkDependent]));
}

var p = Median(packaged);
var b = Median(baseline);
Console.WriteLine($"cold start (exec -> first 200 on GET /), {runs} runs each, median [min..max]:");
Console.WriteLine($"  packaged (self-contained, single-file, ReadyToRun): {p,7:F1} ms  [{packaged.Min():F1}..{packaged.Max():F1}]");
Console.WriteLine($"  baseline (dotnet sentinel-functions.dll)         : {b,7:F1} ms  [{baseline.Min():F1}..{baseline.Max():F1}]");
Console.WriteLine($"  ratio packaged/baseline: {p / b:F2}   goal: packaged <= 300 ms and clearly below the baseline -> {(p <= 300 && p < b ? "met" : "NOT met")}");
return 0;

async Task<double> ColdStartAsync(string file, string[] args)
{
    var port = FreePort();
    var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = package };
    foreach (var a in args)
        start.ArgumentList.Add(a);
    start.ArgumentList.Add("serve");
    start.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
    foreach (var name in new[] { "ConnectionStrings__Postgres", "ConnectionStrings__Redis", "ConnectionStrings__Tables" })
        start.Environment[name] = Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set (make bench exports it).");
    start.Environment["Logging__LogLevel__Default"] = "Warning";
    using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
    var watch = Stopwatch.StartNew();
    using var process = Process.Start(start)!;
    process.OutputDataReceived += (_, _) => { };
    process.ErrorDataReceived += (_, _) => { };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    try
    {
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                using var response = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/"));
                if (response.StatusCode == HttpStatusCode.OK)
                    return watch.Elapsed.TotalMilliseconds;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(2);
            }
        }

        throw new TimeoutException($"{file} did not answer within 30 s");
    }
    finally
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }
}

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

static double Median(List<double> values)
{
    var s = values.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
}

string? ArgValue(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
