using Microsoft.Extensions.Options;
using Sentinel.Core.Configuration;

namespace Sentinel.Functions.Hosting;

internal static class SettingsRegistration
{
    /// <summary>Binds <typeparamref name="T"/> to the section its <see cref="SettingsSectionAttribute"/> names, the only
    /// way options are registered (the deployment consistency test reads the attribute).</summary>
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services) where T : class =>
        services.AddOptions<T>().BindConfiguration(Settings.SectionOf(typeof(T)));
}
