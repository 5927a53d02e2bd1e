//! TLS through real mounts: the built-in server behind a TLS front whose certificate is signed
//! by a private CA made here. Verified by default (the mount fails clearly), trusted with
//! `--ca-cert`, accepted with `--insecure` and a warning. And behind a real nginx speaking TLS
//! and HTTP/2: connections shared, sessions resumed, the per-origin limit kept.

mod common;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::nginx::{Nginx, Tls};
use common::Mounted;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use weaverfs_server::{jobs, ServerConfig};

/// A private CA (its PEM written to `dir/ca.pem`), and a certificate it signed for 127.0.0.1
/// and localhost with its key.
fn private_ca(dir: &Path) -> (PathBuf, rcgen::Certificate, KeyPair) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "weaverfs test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let ca_pem = dir.join("ca.pem");
    fs::write(&ca_pem, ca.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca_pem, cert, key)
}

/// A TLS front for the mounted server: `https://127.0.0.1:PORT`, and the PEM file of the CA
/// that signed its certificate. Hrefs are served through it too.
fn tls_front(m: &Mounted, dir: &Path) -> (String, PathBuf) {
    let (ca_pem, cert, key) = private_ca(dir);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = m.rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend = m.server.addr();
    m.rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the client distrusts us) just ends the connection.
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    if let Ok(mut up) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                    }
                }
            });
        }
    });
    let base = format!("https://127.0.0.1:{port}");
    m.server.set_files_url(Some(format!("{base}/wpsoutputs")));
    (base, ca_pem)
}

fn small_server() -> ServerConfig {
    ServerConfig {
        big_file_size: 4 << 20,
        ..ServerConfig::default()
    }
}

fn read_output_over_https(m: &Mounted) {
    let served = format!("/wpsoutputs/{}/output_bin/data.bin", jobs::FILES);
    let got = fs::read(m.path(&format!("{}/output_bin.bin", jobs::FILES)))
        .unwrap_or_else(|e| panic!("{e}\n{}", m.log()));
    let size = m.server.file_size(&served).unwrap();
    assert!(
        got == m.server.file_bytes(&served, 0, size).unwrap(),
        "bytes differ"
    );
    let files = m.server.requests();
    assert!(
        files.iter().any(|r| r.path == served),
        "not read through the front"
    );
}

#[test]
fn an_untrusted_certificate_fails_the_mount_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let m = Mounted::serve(small_server());
    let (base, _) = tls_front(&m, dir.path());
    let url = format!("{base}/weaver");
    let err = m.mount_fails(&url, &[], &[]);
    assert!(err.contains("TLS certificate is not trusted"), "{err}");
    assert!(
        err.contains("--ca-cert") && err.contains("--insecure"),
        "{err}"
    );
    // A CA file without a certificate is an error too, not an empty trust list.
    let empty = dir.path().join("empty.pem");
    fs::write(&empty, "not a certificate\n").unwrap();
    let err = m.mount_fails(&url, &["--ca-cert", empty.to_str().unwrap()], &[]);
    assert!(err.contains("holds no PEM certificate"), "{err}");
}

#[test]
fn a_private_ca_is_trusted_with_ca_cert() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Mounted::serve(small_server());
    let (base, ca) = tls_front(&m, dir.path());
    m.mount(
        &format!("{base}/weaver"),
        &["--ca-cert", ca.to_str().unwrap()],
        &[],
    );
    read_output_over_https(&m);
    assert!(!m.log().contains("WARNING"), "{}", m.log());
}

#[test]
fn insecure_accepts_any_certificate_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Mounted::serve(small_server());
    let (base, _) = tls_front(&m, dir.path());
    m.mount(&format!("{base}/weaver"), &["--insecure"], &[]);
    read_output_over_https(&m);
    let log = m.log();
    assert!(
        log.contains("WARNING: --insecure: TLS certificates are NOT verified"),
        "{log}"
    );
}

/// Environment variables that make the system's CA list empty, as on a host without the
/// ca-certificates package (rustls-native-certs reads only these when they are set).
fn no_system_cas(dir: &Path) -> [(&'static str, String); 2] {
    let (file, certs) = (dir.join("no-cas.pem"), dir.join("no-cas"));
    fs::write(&file, "").unwrap();
    fs::create_dir_all(&certs).unwrap();
    [
        ("SSL_CERT_FILE", file.to_str().unwrap().to_string()),
        ("SSL_CERT_DIR", certs.to_str().unwrap().to_string()),
    ]
}

#[test]
fn without_system_cas_https_names_the_fix_and_http_needs_none() {
    let dir = tempfile::tempdir().unwrap();
    let env = no_system_cas(dir.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut m = Mounted::serve(small_server());
    let (base, ca) = tls_front(&m, dir.path());
    let fix = |text: &str| {
        assert!(
            text.contains("no CA certificates found on this system")
                && text.contains("apt install ca-certificates")
                && text.contains("SSL_CERT_FILE")
                && text.contains("--ca-cert FILE"),
            "{text}"
        );
    };
    // An https API: the mount fails at start with the cause and the fix, not "builder error".
    let err = m.mount_fails(&format!("{base}/weaver"), &[], &env);
    fix(&err);
    // An http API needs no CA: it mounts, with a warning; its https hrefs are refused clearly.
    m.mount(&m.server.api_url(), &[], &env);
    fix(&m.log());
    let out = m.path(&format!("{}/output_bin.bin", jobs::FILES));
    let err = fs::read(&out).expect_err("an https href read without any CA");
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        m.log().contains("TLS certificate is not trusted"),
        "{}",
        m.log()
    );
    m.stop();
    // --ca-cert is enough on its own.
    m.mount(
        &format!("{base}/weaver"),
        &["--ca-cert", ca.to_str().unwrap()],
        &env,
    );
    read_output_over_https(&m);
    assert!(!m.log().contains("WARNING"), "{}", m.log());
}

/// The job of many small files in [`over_http2_a_mount_shares_few_connections_and_resumes_sessions`].
const MANY: &str = "00000000-0000-4000-8000-00000000a002";

#[test]
fn over_http2_a_mount_shares_few_connections_and_resumes_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(dir.path());
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    fs::write(&cert_pem, cert.pem()).unwrap();
    fs::write(&key_pem, key.serialize_pem()).unwrap();
    let jobs = tempfile::tempdir().unwrap();
    let job = jobs.path().join(MANY);
    fs::create_dir(&job).unwrap();
    for i in 0..60 {
        fs::write(
            job.join(format!("f{i:02}.txt")),
            format!("{i}\n").repeat(100 + i * 30),
        )
        .unwrap();
    }
    let mut m = Mounted::serve(ServerConfig {
        jobs_dir: Some(jobs.path().to_path_buf()),
        ..small_server()
    });
    // The API and the files behind one nginx speaking TLS and HTTP/2, which closes a
    // connection after 25 requests: the mount has to connect again.
    let nginx = Nginx::proxy_tls(
        m.server.addr(),
        &Tls {
            cert: &cert_pem,
            key: &key_pem,
            requests_per_connection: 25,
        },
    );
    let base = nginx.https_url();
    m.server.set_files_url(Some(format!("{base}/wpsoutputs")));
    let limit = 8;
    m.mount(
        &format!("{base}/weaver"),
        &[
            "--ca-cert",
            ca.to_str().unwrap(),
            "--max-requests-per-origin",
            &limit.to_string(),
        ],
        &[],
    );
    // `ls -l`, then every file read.
    let listed: Vec<_> = fs::read_dir(m.path(MANY))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .collect();
    assert!(listed.len() >= 60, "{listed:?}");
    for i in 0..60 {
        let name = format!("{MANY}/f{i:02}.txt");
        let got = fs::read(m.path(&name)).unwrap_or_else(|e| panic!("{name}: {e}\n{}", m.log()));
        assert_eq!(got, fs::read(jobs.path().join(&name)).unwrap(), "{name}");
    }
    let served = nginx.served();
    assert!(served.len() >= 60, "{served:?}");
    assert!(
        served.iter().all(|s| s.protocol == "HTTP/2.0"),
        "{served:?}"
    );
    let connections: HashSet<u64> = served.iter().map(|s| s.connection).collect();
    // Many requests on each connection (nginx closed each after 25), never more connections
    // than the limit at once, and the reconnections resumed their TLS session.
    assert!(
        connections.len() <= served.len() / 10,
        "{} connections for {} requests",
        connections.len(),
        served.len()
    );
    assert!(served.iter().any(|s| s.resumed), "{served:?}");
    // Streams multiplexed on a connection count against the per-origin limit as requests do.
    for prefix in ["/wpsoutputs", "/weaver"] {
        let peak = m.server.peak_in_flight(prefix);
        assert!(peak <= limit, "{prefix}: peak {peak}");
    }
}
