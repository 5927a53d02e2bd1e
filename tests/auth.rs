//! Credentials through real mounts: where they go (the API's origin and named origins only),
//! each scheme against the built-in server's Twitcher/Magpie-like protection, secret files and
//! the config file, and secrets kept out of logs and errors.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::Mounted;
use weaverfs_server::{jobs, RequestRecord, ServerAuth, ServerConfig, TestServer};

const TOKEN: &str = "tok-S3CRET-4a1f";

fn small_server() -> ServerConfig {
    ServerConfig {
        big_file_size: 4 << 20,
        ..ServerConfig::default()
    }
}

fn protected(auth: ServerAuth) -> ServerConfig {
    ServerConfig {
        auth,
        ..small_server()
    }
}

fn bearer(token: &str) -> ServerAuth {
    ServerAuth {
        bearer: Some(token.into()),
        ..ServerAuth::default()
    }
}

/// A file only its owner may read, as secrets must be.
fn private_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Reads an output of the FILES job through the mount and checks its bytes.
fn read_output(m: &Mounted, entry: &str, served: &str) {
    let served = format!("/wpsoutputs/{}/{served}", jobs::FILES);
    let got = fs::read(m.path(&format!("{}/{entry}", jobs::FILES)))
        .unwrap_or_else(|e| panic!("{entry}: {e}\n{}", m.log()));
    let size = m.server.file_size(&served).unwrap();
    assert!(
        got == m.server.file_bytes(&served, 0, size).unwrap(),
        "{entry}: bytes differ"
    );
}

fn header<'a>(r: &'a RequestRecord, name: &str) -> Option<&'a str> {
    r.headers.get(name).map(|v| v.to_str().unwrap())
}

/// Every request carries the token, the header and the cookie (and there are some).
fn assert_all_carry(requests: &[RequestRecord], what: &str) {
    assert!(!requests.is_empty(), "no requests to {what}");
    for r in requests {
        let bearer = format!("Bearer {TOKEN}");
        assert_eq!(
            header(r, "authorization"),
            Some(bearer.as_str()),
            "{what} {}",
            r.path
        );
        assert_eq!(header(r, "x-api-key"), Some("k1"), "{what} {}", r.path);
        assert_eq!(header(r, "cookie"), Some("sid=c1"), "{what} {}", r.path);
    }
}

fn assert_none_carry(requests: &[RequestRecord], what: &str) {
    assert!(!requests.is_empty(), "no requests to {what}");
    for r in requests {
        for h in ["authorization", "x-api-key", "cookie", "referer"] {
            assert!(r.headers.get(h).is_none(), "{h} sent to {what} {}", r.path);
        }
    }
}

/// A second built-in server: another origin (another port) that records what reaches it.
fn second_server(m: &Mounted) -> TestServer {
    m.rt.block_on(TestServer::start(small_server())).unwrap()
}

/// Mounts afresh (nothing cached) with a token from the environment, a header and a cookie
/// file, plus `args`.
fn mount_with_credentials(m: &mut Mounted, dir: &Path, args: &[&str]) {
    let cookies = private_file(
        dir,
        "cookies.txt",
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tc1\n",
    );
    let mut all = vec![
        "-H",
        "X-Api-Key: k1",
        "--cookie-file",
        cookies.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let url = m.server.api_url();
    m.mount(&url, &all, &[("WEAVERFS_TOKEN", TOKEN)]);
}

/// Makes the API's hrefs point at `/moved` on its own origin, which redirects to `target`.
fn redirect_files_to(m: &Mounted, target: &TestServer) {
    m.server
        .set_files_url(Some(format!("{}/moved", m.server.base_url())));
    m.server.set_redirect_target(Some(target.files_url()));
}

fn moved_requests(m: &Mounted) -> Vec<RequestRecord> {
    let all = m.server.requests();
    all.into_iter()
        .filter(|r| r.path.starts_with("/moved/"))
        .collect()
}

#[test]
fn credentials_reach_the_api_origin_and_its_files_only() {
    let secrets = tempfile::tempdir().unwrap();
    let mut m = Mounted::serve(small_server());
    let other = second_server(&m);
    // Files on the API's origin get the same credentials as the API.
    mount_with_credentials(&mut m, secrets.path(), &[]);
    read_output(&m, "output_text.txt", "output_text/result.txt");
    assert_all_carry(&m.server.requests(), "the API's origin");
    m.stop();
    // Hrefs on another origin get none.
    m.server.set_files_url(Some(other.files_url()));
    mount_with_credentials(&mut m, secrets.path(), &[]);
    read_output(&m, "output_bin.bin", "output_bin/data.bin");
    assert_none_carry(&other.requests(), "an href's other origin");
    m.stop();
    // Nor does another origin reached by a redirect from the API's origin.
    other.clear_requests();
    redirect_files_to(&m, &other);
    mount_with_credentials(&mut m, secrets.path(), &[]);
    read_output(&m, "output_big.dat", "output_big/big.dat");
    assert_all_carry(&moved_requests(&m), "the redirecting front");
    assert_none_carry(&other.requests(), "a redirect's other origin");
}

#[test]
fn a_named_origin_gets_the_credentials_directly_and_through_redirects() {
    let secrets = tempfile::tempdir().unwrap();
    let mut m = Mounted::serve(small_server());
    let other = second_server(&m);
    let third = second_server(&m);
    let named = other.base_url();
    let args = ["--auth-origin", named.as_str()];
    m.server.set_files_url(Some(other.files_url()));
    mount_with_credentials(&mut m, secrets.path(), &args);
    read_output(&m, "output_text.txt", "output_text/result.txt");
    assert_all_carry(&other.requests(), "a named origin");
    m.stop();
    // A redirect to the named origin keeps them.
    other.clear_requests();
    redirect_files_to(&m, &other);
    mount_with_credentials(&mut m, secrets.path(), &args);
    read_output(&m, "output_bin.bin", "output_bin/data.bin");
    assert_all_carry(&moved_requests(&m), "the redirecting front");
    assert_all_carry(&other.requests(), "a named origin after a redirect");
    m.stop();
    // An origin not named still gets none.
    m.server.set_files_url(Some(third.files_url()));
    mount_with_credentials(&mut m, secrets.path(), &args);
    read_output(&m, "output_big.dat", "output_big/big.dat");
    assert_none_carry(&third.requests(), "an origin not named");
}

#[test]
fn magpie_sign_in_once_and_again_when_the_ticket_expires() {
    let secrets = tempfile::tempdir().unwrap();
    let password = private_file(secrets.path(), "password", "pa55word\n");
    let mut m = Mounted::serve(protected(ServerAuth {
        magpie: Some(("alice".into(), "pa55word".into())),
        ..ServerAuth::default()
    }));
    let (url, magpie) = (m.server.api_url(), m.server.magpie_url());
    let args = [
        "--magpie-url",
        &magpie,
        "--user",
        "alice",
        "--password-file",
        password.to_str().unwrap(),
    ];
    m.mount(&url, &args, &[]);
    assert_eq!(m.server.signins(), 1, "signed in once at start");
    read_output(&m, "output_text.txt", "output_text/result.txt");
    assert!(fs::read_dir(m.root()).unwrap().count() >= 7);
    assert_eq!(m.server.signins(), 1, "not on every request");
    let requests = m.server.requests();
    let ticket = requests
        .iter()
        .find_map(|r| header(r, "cookie").filter(|c| c.starts_with("auth_tkt=")))
        .unwrap_or_else(|| panic!("no ticket sent: {requests:?}"))
        .to_string();
    for r in requests.iter().filter(|r| !r.path.starts_with("/magpie/")) {
        assert_eq!(header(r, "cookie"), Some(ticket.as_str()), "{}", r.path);
    }
    // The ticket expires: the next request is refused, weaverfs signs in again and retries.
    m.server.expire_tickets();
    m.server.clear_requests();
    read_output(&m, "output_bin.bin", "output_bin/data.bin");
    assert_eq!(m.server.signins(), 2, "signed in again once");
    let statuses: Vec<_> = m.server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        statuses.iter().any(|p| p == "/magpie/signin"),
        "{statuses:?}"
    );
    m.stop();
    let log = m.log();
    assert!(!log.contains("pa55word"), "password in the log: {log}");
    assert!(
        !log.contains(ticket.trim_start_matches("auth_tkt=")),
        "ticket in the log: {log}"
    );
}

#[test]
fn a_wrong_magpie_password_fails_the_mount_clearly() {
    let secrets = tempfile::tempdir().unwrap();
    let password = private_file(secrets.path(), "password", "WrongPass\n");
    let m = Mounted::serve(protected(ServerAuth {
        magpie: Some(("alice".into(), "pa55word".into())),
        ..ServerAuth::default()
    }));
    let magpie = m.server.magpie_url();
    let args = [
        "--magpie-url",
        &magpie,
        "--user",
        "alice",
        "--password-file",
        password.to_str().unwrap(),
    ];
    let err = m.mount_fails(&m.server.api_url(), &args, &[]);
    assert!(err.contains("Magpie sign-in as alice"), "{err}");
    assert!(err.contains("check the user name and password"), "{err}");
    assert!(!err.contains("WrongPass"), "{err}");
}

#[test]
fn basic_with_a_password_file() {
    let secrets = tempfile::tempdir().unwrap();
    let password = private_file(secrets.path(), "password", "pw-9\n");
    let mut m = Mounted::serve(protected(ServerAuth {
        basic: Some(("bob".into(), "pw-9".into())),
        ..ServerAuth::default()
    }));
    let url = m.server.api_url();
    m.mount(
        &url,
        &[
            "--user",
            "bob",
            "--password-file",
            password.to_str().unwrap(),
        ],
        &[],
    );
    read_output(&m, "output_text.txt", "output_text/result.txt");
    assert!(m
        .server
        .requests()
        .iter()
        .all(|r| header(r, "authorization").is_some_and(|a| a.starts_with("Basic "))));
}

#[test]
fn basic_from_a_netrc_file() {
    let secrets = tempfile::tempdir().unwrap();
    let netrc = private_file(
        secrets.path(),
        "netrc",
        "machine example.org login eve password no\nmachine 127.0.0.1\n login bob\n password pw-9\n",
    );
    let mut m = Mounted::serve(protected(ServerAuth {
        basic: Some(("bob".into(), "pw-9".into())),
        ..ServerAuth::default()
    }));
    let url = m.server.api_url();
    m.mount(&url, &["--netrc-file", netrc.to_str().unwrap()], &[]);
    read_output(&m, "output_text.txt", "output_text/result.txt");
    // Refused as a whole when others may read it.
    m.stop();
    fs::set_permissions(&netrc, fs::Permissions::from_mode(0o644)).unwrap();
    let err = m.mount_fails(&url, &["--netrc-file", netrc.to_str().unwrap()], &[]);
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn a_rotated_token_file_is_read_again() {
    let secrets = tempfile::tempdir().unwrap();
    let token = private_file(secrets.path(), "token", "tok-one\n");
    let mut m = Mounted::serve(protected(bearer("tok-one")));
    let url = m.server.api_url();
    m.mount(&url, &["--token-file", token.to_str().unwrap()], &[]);
    read_output(&m, "output_text.txt", "output_text/result.txt");
    // The server now wants a new token, and the file is replaced (by rename, as tools do).
    m.server.set_auth(bearer("tok-two"));
    let next = private_file(secrets.path(), "token.new", "tok-two\n");
    fs::rename(&next, &token).unwrap();
    m.server.clear_requests();
    read_output(&m, "output_bin.bin", "output_bin/data.bin");
    let requests = m.server.requests();
    assert!(requests
        .iter()
        .any(|r| header(r, "authorization") == Some("Bearer tok-two")));
}

#[test]
fn secret_files_others_can_read_are_refused() {
    let secrets = tempfile::tempdir().unwrap();
    let m = Mounted::serve(small_server());
    let url = m.server.api_url();
    let token = private_file(secrets.path(), "token", TOKEN);
    let password = private_file(secrets.path(), "password", TOKEN);
    let cookies = private_file(
        secrets.path(),
        "cookies",
        "127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tc1\n",
    );
    let cases = [
        (&token, vec!["--token-file", token.to_str().unwrap()]),
        (
            &password,
            vec!["--user", "u", "--password-file", password.to_str().unwrap()],
        ),
        (&cookies, vec!["--cookie-file", cookies.to_str().unwrap()]),
    ];
    for (file, args) in cases {
        for mode in [0o644, 0o640] {
            fs::set_permissions(file, fs::Permissions::from_mode(mode)).unwrap();
            let err = m.mount_fails(&url, &args, &[]);
            assert!(err.contains(&format!("permissions {mode:04o}")), "{err}");
            assert!(
                err.contains(&format!("chmod 600 {}", file.display())),
                "{err}"
            );
            assert!(!err.contains(TOKEN), "{err}");
        }
    }
}

#[test]
fn tokens_stay_out_of_logs_argv_and_errors() {
    let mut m = Mounted::serve(protected(bearer(TOKEN)));
    let url = m.server.api_url();
    m.mount(
        &url,
        &["-vv"],
        &[("WEAVERFS_TOKEN", TOKEN), ("RUST_LOG", "trace")],
    );
    let cmdline = fs::read(format!("/proc/{}/cmdline", m.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(TOKEN));
    read_output(&m, "output_text.txt", "output_text/result.txt");
    // Refused from now on: errors are logged, with no token in them.
    m.server.set_auth(bearer("another"));
    let err = fs::read(m.path(&format!("{}/output_bin.bin", jobs::FILES))).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    m.stop();
    let log = m.log();
    assert!(
        log.contains("DEBUG") && log.contains("TRACE"),
        "not verbose: {log}"
    );
    assert!(log.contains("401"), "the refusal is logged: {log}");
    assert!(!log.contains(TOKEN), "token in the log");
    // A token that cannot be sent is refused without being shown.
    let bad = format!("{TOKEN}\u{1}");
    let err = m.mount_fails(&url, &[], &[("WEAVERFS_TOKEN", bad.as_str())]);
    assert!(
        err.contains("the token holds characters not allowed"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "{err}");
}

#[test]
fn servers_named_in_the_config_file() {
    let home = tempfile::tempdir().unwrap();
    let mut m = Mounted::serve(protected(bearer(TOKEN)));
    let config_dir = home.path().join("weaverfs");
    fs::create_dir(&config_dir).unwrap();
    let text = format!(
        "[servers.lab]\nurl = \"{}\"\ntoken = \"{TOKEN}\"\nheaders = {{ \"X-Api-Key\" = \"k1\" }}\n",
        m.server.api_url()
    );
    let config = private_file(&config_dir, "config.toml", &text);
    let xdg = [("XDG_CONFIG_HOME", home.path().to_str().unwrap())];
    m.mount("lab", &[], &xdg);
    read_output(&m, "output_text.txt", "output_text/result.txt");
    assert!(m
        .server
        .requests()
        .iter()
        .all(|r| header(r, "x-api-key") == Some("k1")));
    m.stop();
    // A config file holding secrets that others can read is refused, without showing them.
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let err = m.mount_fails("lab", &[], &xdg);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    // --config overrides the default place; an unknown name lists the known ones.
    let other = private_file(
        home.path(),
        "other.toml",
        &text.replace("[servers.lab]", "[servers.b]"),
    );
    let err = m.mount_fails("lab", &["--config", other.to_str().unwrap()], &[]);
    assert!(
        err.contains("\"lab\" is not an http(s) URL nor a server of") && err.contains("it has: b"),
        "{err}"
    );
    m.mount("b", &["--config", other.to_str().unwrap()], &[]);
    read_output(&m, "output_text.txt", "output_text/result.txt");
}

#[test]
fn the_password_is_asked_for_on_the_terminal() {
    use std::io::{Read, Write};
    let mut m = Mounted::serve(protected(ServerAuth {
        basic: Some(("bob".into(), "pw-9".into())),
        ..ServerAuth::default()
    }));
    // `script` gives weaverfs a terminal, as a person at a shell would have.
    let mount = m.command(&m.server.api_url(), &["--user", "bob"], &[]);
    let line = format!("{mount:?}").replace('"', "");
    let mut child = std::process::Command::new("script")
        .args(["-qe", "--echo", "never", "-c", &line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script runs");
    let mut terminal = child.stdout.take().unwrap();
    let mut shown = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&shown).contains("Password for bob at 127.0.0.1: ") {
        let n = terminal.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&shown));
        shown.extend_from_slice(&buf[..n]);
    }
    // The prompt is printed just before echo is turned off: let that happen before typing.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.stdin.take().unwrap().write_all(b"pw-9\n").unwrap();
    m.adopt(child);
    read_output(&m, "output_text.txt", "output_text/result.txt");
    common::run("fusermount3", &["-u", m.root().to_str().unwrap()]);
    let mut rest = Vec::new();
    let _ = terminal.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("pw-9"),
        "the password was echoed"
    );
}
