using Microsoft.Extensions.DependencyInjection;
using Sentinel.Functions.CustomHandler;
using Sentinel.Functions.Functions;
using Sentinel.Functions.Hosting;
using Sentinel.Functions.Standalone;

namespace Sentinel.Functions.Tests.Standalone;

public sealed class TimerSchedulerTests
{
    [Fact]
    public async Task RunAsync_EverySecondSchedule_InvokesWithHostTimerPayloads()
    {
        var recorder = new RecordingTimerFunction();
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone,
            services => services.AddKeyedSingleton<ITimerFunction>("every-second", recorder),
            new Dictionary<string, string> { ["EVERY"] = "*/1" },
            database: false);
        var scheduler = host.Services.GetRequiredService<TimerScheduler>();
        var function = new FunctionDefinition("every-second", new TimerTrigger("timer", "%EVERY% * * * * *", false, false), null, null, "test");

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3.5));
        await scheduler.RunAsync(function, cts.Token);

        var calls = recorder.Calls.ToArray();
        Assert.InRange(calls.Length, 2, 5);
        Assert.Null(calls[0].Timer.Last);                 // first run: ScheduleStatus null
        Assert.False(calls[0].Timer.IsPastDue);
        Assert.NotNull(calls[1].Timer.Last);               // then the previous run's time
        Assert.True(calls[1].Timer.Next > calls[1].Timer.Last);
        Assert.All(calls, c => Assert.Equal("every-second", c.Context.FunctionName));
    }

    [Fact]
    public async Task Registry_TimerSchedules_AllParseAndResolve()
    {
        await using var host = await SentinelTestHost.StartAsync(HostMode.Standalone, database: false);
        var configuration = host.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>();

        foreach (var f in FunctionRegistry.All.Where(f => f.Trigger is TimerTrigger))
        {
            var expression = Core.Scheduling.AppSettingExpression.Resolve(((TimerTrigger)f.Trigger).Schedule, k => configuration[k]);
            Assert.True(Core.Scheduling.NCrontabSchedule.TryParse(expression, out var schedule, out var error), $"{f.Name}: {error}");
            Assert.NotNull(schedule!.GetNextOccurrence(TimeProvider.System.GetUtcNow()));
        }
    }
}
