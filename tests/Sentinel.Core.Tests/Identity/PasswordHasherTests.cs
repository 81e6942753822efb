using Sentinel.Core.Identity;

namespace Sentinel.Core.Tests.Identity;

public class PasswordHasherTests
{
    [Fact]
    public void Hash_Default_IsVersionedPbkdf2With600kIterationsAndSalt()
    {
        var hasher = new PasswordHasher();

        var a = hasher.Hash("correct horse battery");
        var b = hasher.Hash("correct horse battery");

        Assert.Equal(600_000, PasswordHasher.DefaultIterations);
        Assert.StartsWith("$pbkdf2-sha256$v1$i=600000$", a, StringComparison.Ordinal);
        Assert.NotEqual(a, b); // per-user salt
        Assert.Equal(PasswordCheck.Succeeded, hasher.Verify("correct horse battery", a));
        Assert.Equal(PasswordCheck.Failed, hasher.Verify("correct horse batterY", a));
    }

    [Fact]
    public void Verify_OlderWorkFactor_AsksForRehash()
    {
        var old = new PasswordHasher(100_000).Hash("a long enough password");

        var check = new PasswordHasher(200_000).Verify("a long enough password", old);

        Assert.Equal(PasswordCheck.SucceededRehashNeeded, check);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("plaintext")]
    [InlineData("$pbkdf2-sha256$v1$i=abc$AAAA$AAAA")]
    [InlineData("$pbkdf2-sha256$v1$i=1000$not base64$AAAA")]
    [InlineData("$pbkdf2-sha256$v1$i=1000$AAAAAAAAAAA=$AAAA")]
    public void Verify_UnknownUserOrGarbage_FailsWithoutThrowing(string? stored) =>
        Assert.Equal(PasswordCheck.Failed, new PasswordHasher(100_000).Verify("whatever password", stored));

    [Fact]
    public void Verify_UnknownUser_CostsAboutAsMuchAsAWrongPassword()
    {
        var hasher = new PasswordHasher(200_000);
        var stored = hasher.Hash("the right password");
        hasher.Verify("warm up the JIT", stored);

        static double Median(Func<PasswordCheck> f)
        {
            var times = new List<double>();
            for (var i = 0; i < 5; i++)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                f();
                times.Add(sw.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            return times[2];
        }

        var wrong = Median(() => hasher.Verify("a wrong password", stored));
        var unknown = Median(() => hasher.Verify("a wrong password", null));

        Assert.InRange(unknown / wrong, 0.5, 2.0);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("short", false)]
    [InlineData("          ", false)]
    [InlineData("ten chars!", true)]
    public void Validate_BoundsLength(string? password, bool ok) => Assert.Equal(ok, PasswordHasher.Validate(password) is null);

    [Fact]
    public void Validate_TooLong_IsRefused() => Assert.NotNull(PasswordHasher.Validate(new string('x', PasswordHasher.MaximumLength + 1)));
}
