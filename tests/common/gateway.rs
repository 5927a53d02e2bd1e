//! `weaverfs serve webdav` as a child process for tests, and plain HTTP/WebDAV requests to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use url::Url;

/// A running gateway; killed when dropped.
pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:PORT/`, as the gateway printed it.
    pub url: Url,
}

impl Gateway {
    /// Starts `weaverfs serve webdav SOURCE --addr 127.0.0.1:0 ARGS` and waits for the URL
    /// it prints once it listens.
    pub fn start(source: &str, args: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_weaverfs"))
            .args(["serve", "webdav", source, "--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("weaverfs runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = Url::parse(line.trim()).unwrap_or_else(|_| {
            panic!(
                "the gateway printed no URL: {line:?} ({:?})",
                child.try_wait()
            )
        });
        Gateway { child, url }
    }

    /// Runs the gateway expecting it to refuse to start; returns its stderr.
    pub fn start_fails(source: &str, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_weaverfs"))
            .args(["serve", "webdav", source])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("weaverfs runs");
        assert!(!out.status.success(), "the gateway started");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The URL of `rel` (`JOB/out.nc`, names unencoded), each name percent-encoded.
    pub fn at(&self, rel: &str) -> Url {
        let mut url = self.url.clone();
        url.path_segments_mut()
            .unwrap()
            .pop_if_empty()
            .extend(rel.split('/').filter(|n| !n.is_empty()));
        url
    }

    /// The URL of the collection `rel`, with its trailing slash.
    pub fn dir(&self, rel: &str) -> Url {
        let mut url = self.at(rel);
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        url
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `D:href` values of a multistatus body, percent-decoded.
pub fn hrefs(multistatus: &str) -> Vec<String> {
    multistatus
        .split("<D:href>")
        .skip(1)
        .filter_map(|s| s.split("</D:href>").next())
        .map(|h| {
            percent_encoding::percent_decode_str(h)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}
