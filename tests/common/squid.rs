//! A real Squid (Debian's package) on a free loopback port, configured as a site cache for job
//! outputs: the forward proxy of the nodes, and an accelerator in front of one file host.
//! Stopped when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Squid {
    child: Child,
    /// The forward-proxy port.
    pub proxy: SocketAddr,
    /// The accelerator port, in front of the origin given to [`Squid::start`].
    pub accel: SocketAddr,
    dir: tempfile::TempDir,
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}

/// The site admin's configuration (also in the README), for the file host `origin`.
pub fn config(dir: &Path, proxy: SocketAddr, accel: SocketAddr, origin: SocketAddr) -> String {
    let d = dir.display();
    format!(
        "http_port {proxy}
http_port {accel} accel defaultsite={origin} no-vhost
cache_peer {ip} parent {port} 0 no-query originserver name=outputs
acl accel_port myportname {accel}
cache_peer_access outputs allow accel_port
cache_peer_access outputs deny all
acl localnet src 127.0.0.0/8
acl outputs_host dstdomain {ip}
http_access allow accel_port
http_access allow localnet
http_access deny all
collapsed_forwarding on
range_offset_limit none outputs_host
range_offset_limit none accel_port
quick_abort_min -1 KB
maximum_object_size 64 GB
maximum_object_size_in_memory 8 MB
cache_mem 64 MB
cache_dir ufs {d}/cache 2048 16 256
refresh_pattern . 1440 100% 10080
pid_filename {d}/squid.pid
access_log stdio:{d}/access.log
cache_log {d}/cache.log
cache_store_log none
coredump_dir {d}
shutdown_lifetime 0 seconds
",
        ip = origin.ip(),
        port = origin.port()
    )
}

impl Squid {
    /// Starts Squid for the file host at `origin`. Panics if squid is missing (CI installs it).
    pub fn start(origin: SocketAddr) -> Squid {
        let dir = tempfile::tempdir().unwrap();
        let (proxy, accel) = (free_port(), free_port());
        let conf = dir.path().join("squid.conf");
        std::fs::write(&conf, config(dir.path(), proxy, accel, origin)).unwrap();
        // Squid run as root works as the `proxy` user: give it the directory.
        let _ = Command::new("chown")
            .arg("-R")
            .arg("proxy:proxy")
            .arg(dir.path())
            .status();
        let status = Command::new("squid")
            .arg("-f")
            .arg(&conf)
            .arg("-z")
            .arg("-N")
            .stderr(Stdio::null())
            .status()
            .expect("squid runs (CI installs squid)");
        assert!(status.success(), "squid -z failed");
        let child = Command::new("squid")
            .arg("-f")
            .arg(&conf)
            .arg("-N")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("squid runs");
        let squid = Squid {
            child,
            proxy,
            accel,
            dir,
        };
        squid.wait_up();
        squid
    }

    fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.proxy).is_err() || TcpStream::connect(self.accel).is_err() {
            let log =
                std::fs::read_to_string(self.dir.path().join("cache.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "squid did not start: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy)
    }

    pub fn accel_url(&self) -> String {
        format!("http://{}", self.accel)
    }

    /// Stops it at once, dropping the connections in flight.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        self.kill();
    }
}
