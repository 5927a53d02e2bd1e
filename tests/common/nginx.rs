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

impl Nginx {
    /// Serves `root` at `http://{addr}/`. Panics if nginx is missing or does not start: CI
    /// installs it.
    pub fn serve(root: &Path) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let d = dir.path().display();
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
events {{ worker_connections 64; }}
http {{
    log_format bytes '$request_method $uri $status $body_bytes_sent $http_cache_control';
    access_log {d}/access.log bytes;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {addr};
        root {root};
    }}
}}
",
            root = root.display()
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
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
