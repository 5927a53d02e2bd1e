//! The origin rule and the merging of schemes, without a network.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn headers(creds: &Credentials, to: &str) -> HeaderMap {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(creds.headers_for(&client(), &url(to))).unwrap()
}

fn private(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn credentials_go_only_to_allowed_origins() {
    let opts = AuthOptions {
        origins: vec![parse_origin("https://files.example.org/ignored/path").unwrap()],
        headers: vec![("X-Api-Key".into(), Secret::new("k1"))],
        token: Some(TokenSource::Value(Secret::new("t1\n"))),
        cookies: cookies::parse_pairs("a=1").unwrap(),
        ..AuthOptions::default()
    };
    let creds = Credentials::new(&url("https://api.example.org/weaver"), &opts).unwrap();
    for to in [
        "https://api.example.org/weaver/jobs",
        "https://files.example.org/wpsoutputs/x",
    ] {
        let h = headers(&creds, to);
        assert_eq!(h["authorization"], "Bearer t1", "{to}");
        assert_eq!(h["x-api-key"], "k1", "{to}");
        assert_eq!(h["cookie"], "a=1", "{to}");
        assert!(h["authorization"].is_sensitive());
    }
    for to in [
        "http://api.example.org/weaver/jobs",
        "https://api.example.org:8443/weaver/jobs",
        "https://evil.example.org/x",
        "https://files.example.org.evil.com/x",
    ] {
        assert!(headers(&creds, to).is_empty(), "{to}");
        assert!(!creds.applies_to(&url(to)), "{to}");
    }
}

#[test]
fn netrc_logins_per_host_and_one_authorization_only() {
    let dir = tempfile::tempdir().unwrap();
    let netrc = private(
        dir.path(),
        "netrc",
        "machine api.example.org login alice password pw\n\
         machine files.example.org login bob password pw2\n",
    );
    let opts = AuthOptions {
        origins: vec![parse_origin("https://files.example.org").unwrap()],
        netrc: Some(netrc.clone()),
        ..AuthOptions::default()
    };
    let creds = Credentials::new(&url("https://api.example.org/weaver"), &opts).unwrap();
    let basic = |user_pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    };
    assert_eq!(
        headers(&creds, "https://api.example.org/weaver")["authorization"],
        basic("alice:pw").as_str()
    );
    assert_eq!(
        headers(&creds, "https://files.example.org/f")["authorization"],
        basic("bob:pw2").as_str()
    );
    let err = Credentials::new(&url("https://nobody.example.org/weaver"), &opts).unwrap_err();
    assert!(err.contains("no login for nobody.example.org"), "{err}");
    let both = AuthOptions {
        token: Some(TokenSource::Value(Secret::new("t"))),
        ..opts
    };
    let err = Credentials::new(&url("https://api.example.org/weaver"), &both).unwrap_err();
    assert!(err.contains("more than one Authorization"), "{err}");
}

#[test]
fn cookie_files_follow_their_domains_and_join_header_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let jar = private(
        dir.path(),
        "cookies.txt",
        "api.example.org\tFALSE\t/\tFALSE\t0\tsid\tS1\n\
         tracker.example.com\tTRUE\t/\tFALSE\t0\tads\tA1\n",
    );
    let opts = AuthOptions {
        headers: vec![("Cookie".into(), Secret::new("given=1"))],
        cookie_file: Some(jar),
        ..AuthOptions::default()
    };
    let creds = Credentials::new(&url("https://api.example.org/weaver"), &opts).unwrap();
    assert_eq!(
        headers(&creds, "https://api.example.org/weaver/jobs")["cookie"],
        "given=1; sid=S1"
    );
}

#[test]
fn bad_values_are_refused_without_showing_them() {
    for token in ["", "  \n", "tok\u{7}secret"] {
        let opts = AuthOptions {
            token: Some(TokenSource::Value(Secret::new(token))),
            ..AuthOptions::default()
        };
        let err = Credentials::new(&url("https://h/w"), &opts).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
    let opts = AuthOptions {
        headers: vec![("X-Key".into(), Secret::new("a\u{1}secret"))],
        ..AuthOptions::default()
    };
    let err = Credentials::new(&url("https://h/w"), &opts).unwrap_err();
    assert!(err.contains("X-Key") || err.contains("x-key"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    assert!(parse_origin("ftp://h").is_err());
    assert!(parse_origin("not a url").is_err());
}
