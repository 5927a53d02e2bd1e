//! Real OGC API - Processes servers from PyPI (pygeoapi, fastprocesses), started by
//! `scripts/test-servers.py` on free 127.0.0.1 ports with the tests' own processes and jobs.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A started server: its URL and the jobs submitted to it (`kind`, `process`, `id`, `status`).
pub struct RealServer {
    pub url: String,
    pub jobs: Vec<Value>,
    /// The servers' state and logs; they stop once this test process is gone, or when dropped.
    pub dir: tempfile::TempDir,
}

impl RealServer {
    /// Starts `name` (`pygeoapi` or `fastprocesses`), installing it first if needed.
    pub fn start(name: &str) -> RealServer {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-servers.py");
        let out = Command::new("python3")
            .arg(&script)
            .args(["start", name])
            .arg(dir.path())
            .args(["--watch-pid", &std::process::id().to_string()])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{name} did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest: Value = serde_json::from_slice(&out.stdout).expect("a JSON manifest");
        RealServer {
            url: manifest["url"].as_str().unwrap().to_string(),
            jobs: manifest["jobs"].as_array().unwrap().clone(),
            dir,
        }
    }

    /// The ids of the jobs of `kind`.
    pub fn jobs_of(&self, kind: &str) -> Vec<String> {
        self.jobs
            .iter()
            .filter(|j| j["kind"] == kind)
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// What the server answers to GET `url` (absolute, or a path under the server) asking
    /// for JSON, as weaverfs does: (status, content type, body).
    pub fn get(&self, url: &str) -> (u16, String, Vec<u8>) {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.url)
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = reqwest::Client::new()
                .get(&url)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let status = resp.status().as_u16();
            let ct = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let link = resp
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_string());
            let body = resp.bytes().await.unwrap().to_vec();
            // A 204's Link is what it says: return it as the body.
            match (status, link) {
                (204, Some(link)) => (status, ct, link.into_bytes()),
                _ => (status, ct, body),
            }
        })
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-servers.py");
        let _ = Command::new("python3")
            .arg(script)
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
