using System.Globalization;
using Sentinel.Contracts.EventHubs;

namespace Sentinel.Core.Tests.EventHubs;

public class SharedAccessSignatureTests
{
    private static readonly Uri Hub = new("https://myns.servicebus.windows.net/myhub");
    private static readonly Dictionary<string, string> Keys = new() { ["SendPolicy"] = "MySecretKeyValue123=" };
    private static readonly DateTimeOffset Expiry = DateTimeOffset.FromUnixTimeSeconds(1700000000);
    private static readonly DateTimeOffset Before = Expiry.AddMinutes(-5);

    [Fact]
    public void Create_PublishedVector_MatchesExactly()
    {
        // shared/research/azure-rest-protocols.md §A8, computed with the SDK's algorithm.
        var token = SharedAccessSignature.Create("https://myns.servicebus.windows.net/myhub", "SendPolicy", "MySecretKeyValue123=", Expiry);

        Assert.Equal(
            "SharedAccessSignature sr=https%3A%2F%2Fmyns.servicebus.windows.net%2Fmyhub&sig=Du6ahCsjBPwXFUhIef4XQGFACzOhCsKpAfxj6hcmVM4%3D&se=1700000000&skn=SendPolicy",
            token);
    }

    [Fact]
    public void Validate_OwnToken_IsValid() =>
        Assert.Equal(SasValidation.Valid, SharedAccessSignature.Validate(Create(), Hub, Keys, Before));

    [Fact]
    public void Validate_LowerCaseHexEncoding_IsValid()
    {
        // The docs' C# sample encodes with lower-case hex (HttpUtility); the signature covers sr as sent, so both work.
        var sr = "https%3a%2f%2fmyns.servicebus.windows.net%2fmyhub";
        var sig = Sign(sr, "1700000000", "MySecretKeyValue123=");
        var token = $"SharedAccessSignature sr={sr}&sig={Uri.EscapeDataString(sig)}&se=1700000000&skn=SendPolicy";

        Assert.Equal(SasValidation.Valid, SharedAccessSignature.Validate(token, Hub, Keys, Before));
    }

    [Fact]
    public void Validate_NamespaceRootToken_CoversItsHubs() =>
        Assert.Equal(SasValidation.Valid, SharedAccessSignature.Validate(
            SharedAccessSignature.Create("sb://myns.servicebus.windows.net/", "SendPolicy", "MySecretKeyValue123=", Expiry), Hub, Keys, Before));

    [Fact]
    public void Validate_AtOrAfterExpiry_IsExpired()
    {
        Assert.Equal(SasValidation.Expired, SharedAccessSignature.Validate(Create(), Hub, Keys, Expiry));
        Assert.Equal(SasValidation.Expired, SharedAccessSignature.Validate(Create(), Hub, Keys, Expiry.AddHours(1)));
    }

    [Fact]
    public void Validate_WrongKey_IsBadSignature() =>
        Assert.Equal(SasValidation.BadSignature, SharedAccessSignature.Validate(
            SharedAccessSignature.Create(Hub.ToString(), "SendPolicy", "another-key", Expiry), Hub, Keys, Before));

    [Fact]
    public void Validate_TamperedExpiry_IsBadSignature() =>
        Assert.Equal(SasValidation.BadSignature, SharedAccessSignature.Validate(
            Create().Replace("se=1700000000", "se=1800000000", StringComparison.Ordinal), Hub, Keys, Before));

    [Fact]
    public void Validate_UnknownKeyName_IsUnknownKey() =>
        Assert.Equal(SasValidation.UnknownKey, SharedAccessSignature.Validate(
            SharedAccessSignature.Create(Hub.ToString(), "Other", "MySecretKeyValue123=", Expiry), Hub, Keys, Before));

    [Theory]
    [InlineData("https://myns.servicebus.windows.net/otherhub")]
    [InlineData("https://myns.servicebus.windows.net/myhub2")]
    [InlineData("https://otherns.servicebus.windows.net/myhub")]
    public void Validate_OtherResource_IsWrongResource(string resource) =>
        Assert.Equal(SasValidation.WrongResource, SharedAccessSignature.Validate(
            SharedAccessSignature.Create(resource, "SendPolicy", "MySecretKeyValue123=", Expiry), Hub, Keys, Before));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Bearer eyJ0eXAi")]
    [InlineData("SharedAccessSignature sr=x&sig=y&skn=SendPolicy")]
    [InlineData("SharedAccessSignature sr=x&sig=y&se=notanumber&skn=SendPolicy")]
    [InlineData("SharedAccessSignature garbage")]
    public void Validate_Malformed_IsMalformed(string? header) =>
        Assert.Equal(SasValidation.Malformed, SharedAccessSignature.Validate(header, Hub, Keys, Before));

    [Fact]
    public void Validate_NonBase64Signature_IsBadSignature() =>
        Assert.Equal(SasValidation.BadSignature, SharedAccessSignature.Validate(
            "SharedAccessSignature sr=https%3A%2F%2Fmyns.servicebus.windows.net%2Fmyhub&sig=%%%&se=1700000000&skn=SendPolicy", Hub, Keys, Before));

    [Theory]
    [InlineData("Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc;EntityPath=hub", "https://myns.servicebus.windows.net/", "hub")]
    [InlineData("Endpoint=sb://127.0.0.1:7071/;SharedAccessKeyName=send;SharedAccessKey=abc", "http://127.0.0.1:7071/", null)]
    [InlineData("Endpoint=sb://localhost;SharedAccessKeyName=send;SharedAccessKey=abc;UseDevelopmentEmulator=true;", "http://localhost/", null)]
    [InlineData("Endpoint=http://127.0.0.1:7071/;SharedAccessKeyName=send;SharedAccessKey=abc", "http://127.0.0.1:7071/", null)]
    public void ConnectionString_Parses(string value, string endpoint, string? entity)
    {
        Assert.True(EventHubsConnectionString.TryParse(value, out var cs));
        Assert.Equal(endpoint, cs!.Endpoint.ToString());
        Assert.Equal("send", cs.KeyName);
        Assert.Equal("abc", cs.Key);
        Assert.Equal(entity, cs.EntityPath);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Endpoint=sb://x/;SharedAccessKeyName=send")]
    [InlineData("SharedAccessKeyName=send;SharedAccessKey=abc")]
    [InlineData("garbage")]
    public void ConnectionString_Incomplete_IsRejected(string value) =>
        Assert.False(EventHubsConnectionString.TryParse(value, out _));

    private static string Create() =>
        SharedAccessSignature.Create(Hub.ToString(), "SendPolicy", "MySecretKeyValue123=", Expiry);

    private static string Sign(string encodedResource, string se, string key) =>
        Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(encodedResource + "\n" + se.ToString(CultureInfo.InvariantCulture))));
}
