//! TLS settings: certificates are verified against the system's CAs by default; `--ca-cert`
//! adds a private CA; `--insecure` turns verification off, loudly.

use std::path::PathBuf;

use reqwest::ClientBuilder;

#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// A PEM file of CA certificates trusted besides the system's.
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure: bool,
}

/// Words that start the advice given with a certificate error; the mount fails at start on it.
pub const UNTRUSTED: &str = "the server's TLS certificate is not trusted";

/// Applies the options to a client under construction.
pub fn configure(mut builder: ClientBuilder, opts: &TlsOptions) -> Result<ClientBuilder, String> {
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
            return Some(format!(
                "{UNTRUSTED} ({why:?}): give its CA with --ca-cert FILE (PEM), or, to accept \
                 any certificate, --insecure"
            ));
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
