using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace DistributedExecutor.Contracts.Security;

/// <summary>
/// Server certificate checks for clients of the master (distctl, workers): the system's trust, or a CA file
/// given by the operator (--ca-cert, MASTER_CA_CERT_FILE). A certificate listed in that file itself is trusted
/// as pinned; anything else must chain to it and match the host name.
/// </summary>
public static class CertificateTrust
{
    /// <summary>A validation callback trusting the system store and the certificates in <paramref name="caFile"/> (when given).</summary>
    public static RemoteCertificateValidationCallback Callback(string? caFile)
    {
        var trusted = new X509Certificate2Collection();
        if (caFile is not null)
        {
            trusted.ImportFromPemFile(caFile);
            if (trusted.Count == 0)
            {
                throw new InvalidDataException($"{caFile} holds no PEM certificate");
            }
        }

        return (_, certificate, _, errors) => IsTrusted(certificate, errors, trusted);
    }

    private static bool IsTrusted(X509Certificate? presented, SslPolicyErrors errors, X509Certificate2Collection trusted)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (presented is null || trusted.Count == 0)
        {
            return false;
        }

        using var server = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        if (trusted.Any(t => t.RawDataMemory.Span.SequenceEqual(server.RawDataMemory.Span)))
        {
            return true;
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server);
    }
}
