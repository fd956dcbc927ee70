using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace DistributedExecutor.Hosting.Settings;

/// <summary>TLS for a gRPC listener (TLS_CERT_FILE and TLS_KEY_FILE, PEM), checked at start-up.</summary>
internal sealed record TlsOptions(string CertFile, string KeyFile)
{
    /// <summary>Null when TLS is off; problems (one file without the other, unreadable PEM) go to <paramref name="settings"/>.</summary>
    public static TlsOptions? Load(SettingsReader settings)
    {
        if (settings.OptionalString("TLS_CERT_FILE") is null && settings.OptionalString("TLS_KEY_FILE") is null)
        {
            return null;
        }

        if (settings.OptionalString("TLS_CERT_FILE") is null || settings.OptionalString("TLS_KEY_FILE") is null)
        {
            settings.Fail("TLS_CERT_FILE and TLS_KEY_FILE go together: set both, or neither");
            return null;
        }

        var cert = settings.ExistingFile("TLS_CERT_FILE");
        var key = settings.ExistingFile("TLS_KEY_FILE");
        if (key is not null)
        {
            settings.MarkSecretFile("TLS_KEY_FILE", key);
        }

        if (cert is null || key is null)
        {
            return null;
        }

        try
        {
            using var _ = X509Certificate2.CreateFromPemFile(cert, key);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            settings.Fail($"TLS_CERT_FILE / TLS_KEY_FILE: not a matching PEM certificate and key ({ex.Message})");
            return null;
        }

        return new TlsOptions(cert, key);
    }

    public X509Certificate2 LoadCertificate() => X509Certificate2.CreateFromPemFile(CertFile, KeyFile);
}
