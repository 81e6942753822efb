using Sentinel.Core.Storage;

namespace Sentinel.Core.Tests.Storage;

public class RedisKeysTests
{
    private readonly RedisKeys _keys = new("p:");

    [Theory]
    [InlineData("ip:203.0.113.5")]
    [InlineData("ip:2001:db8::1")]
    [InlineData("aaaaaaaaaaaaaaaa:user:bbbbbbbbbbbbbbbb")]
    public void Bucket_GatewaySubjects_AreKeptReadable(string subject) =>
        Assert.Equal("p:rl:api:" + subject, _keys.Bucket("api", subject));

    [Theory]
    [InlineData("svc:aaaaaaaaaaaaaaaa:+55 11 99999-0000")]
    [InlineData("svc:t:Ünïcode\r\nKEYS *")]
    public void Bucket_ClientChosenSubjects_AreHashedAndBounded(string subject)
    {
        var key = _keys.Bucket("default", subject);

        Assert.StartsWith("p:rl:default:h", key, StringComparison.Ordinal);
        Assert.Equal("p:rl:default:h".Length + 24, key.Length);
        Assert.NotEqual(key, _keys.Bucket("default", subject + "x"));
    }

    [Fact]
    public void Bucket_LongSubject_IsHashed() =>
        Assert.Equal("p:rl:x:h".Length + 24, _keys.Bucket("x", new string('a', 500)).Length);
}
