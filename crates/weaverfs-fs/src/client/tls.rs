//! TLS settings: certificates are verified against the system's CAs by default; `--ca-cert`
//! adds a private CA; `--insecure` turns verification off, loudly. A system without CA
//! certificates can still reach `http://` servers (reqwest's platform verifier refuses to be built
//! without any, with only "builder error").

use std::path::PathBuf;
use std::sync::OnceLock;

use reqwest::{ClientBuilder, Url};

#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// A PEM file of CA certificates trusted besides the system's.
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure: bool,
}

/// Words that start the advice given with a certificate error; the mount fails at start on it.
pub const UNTRUSTED: &str = "the server's TLS certificate is not trusted";

/// Words that start the error or warning given on a system without CA certificates.
pub const NO_SYSTEM_CAS: &str = "no CA certificates found on this system";

/// Where the system's CAs are looked for and how to get them.
const NO_SYSTEM_CAS_FIX: &str = "(looked in $SSL_CERT_FILE and $SSL_CERT_DIR if set, else in \
     OpenSSL's places such as /etc/ssl/certs/ca-certificates.crt and /etc/pki/tls/certs): install \
     them (apt install ca-certificates, dnf install ca-certificates, apk add ca-certificates), \
     point SSL_CERT_FILE at a PEM bundle, or give the server's CA with --ca-cert FILE";

/// Whether the system has no CA certificates, as reqwest's verifier would find them (looked up
/// once: the same files are read for every client).
fn system_cas_missing() -> bool {
    static MISSING: OnceLock<bool> = OnceLock::new();
    *MISSING.get_or_init(|| rustls_native_certs::load_native_certs().certs.is_empty())
}

/// Applies the options to a client under construction for the API at `api`.
pub fn configure(
    mut builder: ClientBuilder,
    opts: &TlsOptions,
    api: &Url,
) -> Result<ClientBuilder, String> {
    if opts.ca_cert.is_none() && !opts.insecure && system_cas_missing() {
        if api.scheme() == "https" {
            return Err(format!("{api}: {NO_SYSTEM_CAS} {NO_SYSTEM_CAS_FIX}"));
        }
        eprintln!(
            "weaverfs: WARNING: {NO_SYSTEM_CAS}: https:// hrefs will be refused {NO_SYSTEM_CAS_FIX}"
        );
        // Verification against an empty trust list: every certificate is refused, clearly.
        builder = builder.tls_certs_only([]);
    }
    if let Some(path) = &opts.ca_cert {
        let pem = std::fs::read(path).map_err(|e| format!("CA file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "CA file {} holds no PEM certificate",
                path.display()
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if opts.insecure {
        eprintln!(
            "weaverfs: WARNING: --insecure: TLS certificates are NOT verified; anyone on the \
             network path can read and change the data and take the credentials"
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

/// Advice for an error caused by an untrusted or invalid server certificate, if it is one.
pub fn certificate_advice(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(rustls::Error::InvalidCertificate(why)) = err.downcast_ref::<rustls::Error>() {
            let mut advice = format!(
                "{UNTRUSTED} ({why:?}): give its CA with --ca-cert FILE (PEM), or, to accept \
                 any certificate, --insecure"
            );
            if system_cas_missing() {
                advice.push_str(&format!("; {NO_SYSTEM_CAS} {NO_SYSTEM_CAS_FIX}"));
            }
            return Some(advice);
        }
        // An io::Error hides what it wraps from `source()` (and may wrap another io::Error).
        next = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn certificate_errors_are_found_inside_nested_io_errors() {
        // As hyper-rustls and hyper-util wrap them.
        let cert = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = io::Error::other(io::Error::new(io::ErrorKind::InvalidData, cert));
        let advice = certificate_advice(&nested).unwrap();
        assert!(
            advice.starts_with(UNTRUSTED) && advice.contains("UnknownIssuer"),
            "{advice}"
        );
        assert!(advice.contains("--ca-cert") && advice.contains("--insecure"));
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(certificate_advice(&io::Error::other(refused)), None);
    }
}
