//! `weaverfs serve sample --control`: commands on standard input, one a line, each answered
//! by one line on standard output, so that tests in another language (python/tests) can count
//! the server's requests and change its files at the moment that matters, without timing.
//! The server stops when standard input closes.
//!
//! - `requests`: the requests received so far, as one JSON array of `{method, path, range}`;
//! - `clear-requests`: forgets them (`ok`);
//! - `bump PATH`: a file under `/wpsoutputs` gets new bytes of the same size and a new ETag
//!   and Last-Modified (`ok`, or `error: ...`);
//! - `magpie USER PASSWORD`: from now on requests need the ticket that `/magpie/signin` issues
//!   to USER with PASSWORD, as Twitcher + Magpie ask (`ok`);
//! - `signins`: the Magpie sign-ins accepted so far; `expire-tickets`: refuses the tickets
//!   issued so far (`ok`), as Magpie does when they expire.

use std::io::{BufRead, Write};

use weaverfs_server::{ServerAuth, TestServer};

/// Answers commands until standard input closes or Ctrl-C.
pub async fn serve(server: &TestServer) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            line = rx.recv() => match line {
                Some(line) => line,
                None => return,
            },
        };
        let reply = answer(server, line.trim());
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{reply}").and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

fn answer(server: &TestServer, command: &str) -> String {
    match command.split_once(' ').unwrap_or((command, "")) {
        ("requests", "") => {
            let list: Vec<serde_json::Value> = server
                .requests()
                .into_iter()
                .map(|r| serde_json::json!({"method": r.method, "path": r.path, "range": r.range}))
                .collect();
            serde_json::Value::Array(list).to_string()
        }
        ("clear-requests", "") => {
            server.clear_requests();
            "ok".into()
        }
        ("bump", path) if server.file_size(path).is_some() => {
            server.bump_file_version(path);
            "ok".into()
        }
        ("bump", path) => format!("error: no file {path:?}"),
        ("magpie", login) => match login.split_once(' ') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                server.set_auth(ServerAuth {
                    magpie: Some((user.into(), password.into())),
                    ..ServerAuth::default()
                });
                "ok".into()
            }
            _ => "error: magpie USER PASSWORD".into(),
        },
        ("signins", "") => server.signins().to_string(),
        ("expire-tickets", "") => {
            server.expire_tickets();
            "ok".into()
        }
        _ => format!(
            "error: unknown command {command:?} (requests, clear-requests, bump PATH, \
             magpie USER PASSWORD, signins, expire-tickets)"
        ),
    }
}
