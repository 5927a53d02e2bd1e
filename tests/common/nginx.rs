//! A real nginx serving a directory on a free loopback port, as deployments serve Weaver's
//! output files. Stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

/// What makes [`Nginx::proxy_tls`] an HTTPS server speaking HTTP/2.
pub struct Tls<'a> {
    /// PEM certificate chain and its key.
    pub cert: &'a Path,
    pub key: &'a Path,
    /// Requests one connection serves before nginx closes it (`keepalive_requests`), so a
    /// client has to connect again.
    pub requests_per_connection: u32,
}

/// One request of a TLS server's connection log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// nginx's serial number of the connection.
    pub connection: u64,
    /// `HTTP/2.0`, `HTTP/1.1`...
    pub protocol: String,
    /// The TLS session was resumed (an abbreviated handshake).
    pub resumed: bool,
    pub uri: String,
}

impl Nginx {
    /// Serves `root` at `http://{addr}/`. Panics if nginx is missing or does not start: CI
    /// installs it.
    pub fn serve(root: &Path) -> Nginx {
        let addr = free_addr();
        Self::start(
            &format!("listen {addr};"),
            &format!("root {};", root.display()),
            addr,
        )
    }

    /// `https://{addr}/` with HTTP/2 offered by ALPN, every request passed to `upstream` over
    /// HTTP/1.0 (nginx's default: one upstream request per client request, so the upstream
    /// sees as many requests in flight as the client sent). Logs each request's connection,
    /// protocol and session reuse ([`Nginx::served`]).
    pub fn proxy_tls(upstream: SocketAddr, tls: &Tls) -> Nginx {
        let addr = free_addr();
        let listen = format!(
            "listen {addr} ssl http2;
        ssl_certificate {};
        ssl_certificate_key {};
        ssl_session_cache shared:tls:1m;
        keepalive_requests {};
        access_log {{d}}/served.log served;",
            tls.cert.display(),
            tls.key.display(),
            tls.requests_per_connection,
        );
        let location =
            format!("location / {{ proxy_pass http://{upstream}; proxy_buffering off; }}");
        Self::start(&listen, &location, addr)
    }

    /// nginx with one server block: `listen` (its listen and TLS lines; `{d}` is the temporary
    /// directory) and `body` (what it serves).
    fn start(listen: &str, body: &str, addr: SocketAddr) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let listen = listen.replace("{d}", &d.to_string());
        // `user root` keeps the worker able to read a private temp directory when run as root.
        // SAFETY: geteuid cannot fail and touches no memory.
        let user = if unsafe { libc::geteuid() } == 0 {
            "user root;"
        } else {
            ""
        };
        let conf = format!(
            "{user}
daemon off;
master_process off;
worker_processes 1;
error_log {d}/error.log;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    log_format bytes '$request_method $uri $status $body_bytes_sent $http_cache_control';
    log_format served '$connection $server_protocol $ssl_session_reused $uri';
    access_log {d}/access.log bytes;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        {listen}
        {body}
    }}
}}
"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .spawn()
            .expect("nginx runs (CI installs nginx-light)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "nginx did not start: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            addr,
            _dir: dir,
        }
    }

    /// The requests a [`Nginx::proxy_tls`] server answered so far, in the order it logged them.
    pub fn served(&self) -> Vec<Served> {
        let log = std::fs::read_to_string(self._dir.path().join("served.log")).unwrap_or_default();
        log.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let [connection, protocol, reused, uri] = f[..] else {
                    return None;
                };
                Some(Served {
                    connection: connection.parse().ok()?,
                    protocol: protocol.to_string(),
                    resumed: reused == "r",
                    uri: uri.to_string(),
                })
            })
            .collect()
    }

    /// Body bytes nginx sent for `uri` so far, from its access log (what the origin served).
    pub fn bytes_sent(&self, uri: &str) -> u64 {
        let log = std::fs::read_to_string(self._dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                let (_, path, _, bytes) = (f.next()?, f.next()?, f.next()?, f.next()?);
                (path == uri).then(|| bytes.parse::<u64>().ok())?
            })
            .sum()
    }

    /// Requests for `uri` that came with `Cache-Control: {value}`, from the access log.
    pub fn requests_with_cache_control(&self, uri: &str, value: &str) -> usize {
        let log = std::fs::read_to_string(self._dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .filter(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                f.len() >= 5 && f[1] == uri && f[4..].join(" ") == value
            })
            .count()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

/// A loopback address no one listens on yet.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
