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
        // An io::Error hides what it wraps from `source()`: look inside it too.
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(err), inner].into_iter().flatten() {
            if let Some(rustls::Error::InvalidCertificate(why)) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return Some(format!(
                    "{UNTRUSTED} ({why:?}): give its CA with --ca-cert FILE (PEM), or, to \
                     accept any certificate, --insecure"
                ));
            }
        }
        next = err.source();
    }
    None
}
