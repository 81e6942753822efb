using System.Text;
using Sentinel.Contracts.Metrics;

namespace Sentinel.Core.Tests.Monitoring;

public sealed class AgentSignatureTests
{
    private static readonly byte[] Master = Encoding.UTF8.GetBytes("master-secret-0123456789abcdef0123");

    [Fact]
    public void DerivedKeys_AreStable_AndDifferByTenantAgentAndVersion()
    {
        var k = AgentSignature.DeriveKey(Master, "t1", "a1", 1);
        Assert.Equal(k, AgentSignature.DeriveKey(Master, "t1", "a1", 1));
        Assert.NotEqual(k, AgentSignature.DeriveKey(Master, "t1", "a1", 2));
        Assert.NotEqual(k, AgentSignature.DeriveKey(Master, "t2", "a1", 1));
        Assert.NotEqual(k, AgentSignature.DeriveKey(Master, "t1", "a2", 1));
        Assert.True(AgentSignature.TryDecodeKey(AgentSignature.EncodeKey(k), out var back));
        Assert.Equal(k, back);
        Assert.Equal(43, AgentSignature.EncodeKey(k).Length);
        Assert.False(AgentSignature.TryDecodeKey("too-short", out _));
        Assert.False(AgentSignature.TryDecodeKey(null, out _));
    }

    [Fact]
    public void Signature_CoversBodyAgentVersionAndTimestamp()
    {
        var key = AgentSignature.DeriveKey(Master, "t1", "a1", 1);
        var body = "{\"v\":1}"u8.ToArray();
        var sig = AgentSignature.Sign(key, "a1", 1, 1700000000, body);

        Assert.StartsWith("v1=", sig, StringComparison.Ordinal);
        Assert.True(AgentSignature.Verify(key, "a1", 1, 1700000000, body, sig));
        Assert.False(AgentSignature.Verify(key, "a1", 1, 1700000001, body, sig));
        Assert.False(AgentSignature.Verify(key, "a2", 1, 1700000000, body, sig));
        Assert.False(AgentSignature.Verify(key, "a1", 2, 1700000000, body, sig));
        Assert.False(AgentSignature.Verify(key, "a1", 1, 1700000000, "{\"v\":2}"u8.ToArray(), sig));
        Assert.False(AgentSignature.Verify(key, "a1", 1, 1700000000, body, "v1=not base64!"));
        Assert.False(AgentSignature.Verify(key, "a1", 1, 1700000000, body, sig[3..]));
        Assert.False(AgentSignature.Verify(key, "a1", 1, 1700000000, body, null));
    }

    [Theory]
    [InlineData("cpu.usage", true)]
    [InlineData("probe.latency_seconds", true)]
    [InlineData("CPU", false)]
    [InlineData("1cpu", false)]
    [InlineData("cpu usage", false)]
    [InlineData("", false)]
    public void MetricNames(string name, bool valid) => Assert.Equal(valid, MetricRules.IsMetricName(name));

    [Fact]
    public void Rules_BoundEveryPartOfABatch()
    {
        var now = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);
        MetricBatch B(IReadOnlyList<MetricSample> samples, string agent = "a1", int interval = 10) => new(1, agent, 1, "h", now, interval, samples);
        var ok = new MetricSample("cpu.usage", new Dictionary<string, string> { ["core"] = "0" }, 1);

        Assert.Null(MetricRules.Validate(B([ok])));
        Assert.NotNull(MetricRules.Validate(B([])));
        Assert.NotNull(MetricRules.Validate(B([ok], agent: "Bad Agent")));
        Assert.NotNull(MetricRules.Validate(B([ok], interval: 0)));
        Assert.NotNull(MetricRules.Validate(B(Enumerable.Repeat(ok, MetricRules.MaxSamples + 1).ToList())));
        Assert.NotNull(MetricRules.Validate(B([ok with { Value = double.NaN }])));
        Assert.NotNull(MetricRules.Validate(B([ok with { Labels = new Dictionary<string, string> { ["Bad-Label"] = "x" } }])));
        Assert.NotNull(MetricRules.Validate(B([ok with { Labels = new Dictionary<string, string> { ["l"] = new string('x', 257) } }])));
        Assert.NotNull(MetricRules.Validate(B([ok with { Labels = Enumerable.Range(0, 17).ToDictionary(i => "l" + i, _ => "v") }])));
        Assert.NotNull(MetricRules.Validate(B([ok]) with { Version = 2 }));
    }
}
