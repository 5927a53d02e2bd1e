//! The `weaverfs` command: `mount`, `demo` (mount the built-in sample server) and `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use url::Url;

use weaverfs::mount::{mount_and_serve, MountConfig};
use weaverfs::server::{ServerConfig, TestServer};

#[derive(Parser)]
#[command(
    version,
    about = "Mount the jobs of a Weaver (OGC API - Processes) server as a read-only filesystem"
)]
struct Cli {
    /// Log more (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mount a server: `weaverfs mount https://host/weaver /mnt/w`. Stays in the foreground;
    /// Ctrl-C or SIGTERM unmounts.
    Mount {
        /// The server's URL, under which `/jobs` is served.
        url: Url,
        mountpoint: PathBuf,
        #[command(flatten)]
        opts: MountArgs,
    },
    /// Start the built-in sample server and mount it (for a first look and for tests).
    Demo {
        mountpoint: PathBuf,
        /// Address of the sample server.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        #[command(flatten)]
        opts: MountArgs,
    },
    /// Run the built-in sample server only, until Ctrl-C.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: SocketAddr,
        /// Size of the generated big file (e.g. 256M, 1G).
        #[arg(long, default_value = "256M", value_parser = parse_size)]
        big_file_size: u64,
        /// Added latency per response, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Answer Range requests with 200 and the whole body, like some servers do.
        #[arg(long)]
        ignore_range: bool,
        /// Extra synthetic jobs in the listing.
        #[arg(long, default_value_t = 0)]
        extra_jobs: usize,
        /// Also serve the jobs of a directory laid out like Weaver's outputs:
        /// `{job-uuid}/{output}/{file}`, or `{job-uuid}/{file}` for an output named by its stem.
        #[arg(long, value_name = "DIR")]
        jobs_dir: Option<PathBuf>,
        /// Base URL of the output files in hrefs (e.g. an nginx serving the same files);
        /// by default the server's own `/wpsoutputs`.
        #[arg(long, value_name = "URL")]
        files_url: Option<Url>,
    },
}

#[derive(Args, Clone)]
struct MountArgs {
    /// Memory for cached file blocks (e.g. 256M, 1G).
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    cache_size: u64,
    /// Size of a cached block, and of most range requests.
    #[arg(long, default_value = "1M", value_parser = parse_size)]
    block_size: u64,
    /// Largest read-ahead of a sequential reader, in blocks.
    #[arg(long, default_value_t = 8)]
    read_ahead_blocks: u64,
    /// Seconds before the job listing is fetched again.
    #[arg(long, default_value_t = 30)]
    listing_ttl: u64,
    /// Seconds before a finished job's status (and its files' sizes) are checked again.
    #[arg(long, default_value_t = 60)]
    job_ttl: u64,
    /// Seconds before a running job's status and logs are checked again.
    #[arg(long, default_value_t = 2)]
    active_ttl: u64,
    /// Keep bare output ids as file names (no extension added).
    #[arg(long)]
    plain_names: bool,
    /// An HTTP header for the API's origin, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// A file holding a bearer token (or set WEAVERFS_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Seconds to wait for a connection.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// Seconds to wait for any byte of a response.
    #[arg(long, default_value_t = 30.0)]
    read_timeout: f64,
    /// Retries of a failed read (network error, timeout, 429, 5xx, truncated body).
    #[arg(long, default_value_t = 4)]
    retries: u32,
    /// Seconds all the attempts at one request may take together.
    #[arg(long, default_value_t = 30.0)]
    retry_max_time: f64,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("bad size {s:?}"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => return Err(format!("bad size unit in {s:?} (use K, M or G)")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A positive number of seconds as a Duration.
fn seconds(option: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{option} must be a positive number of seconds"))
}

impl MountArgs {
    fn config(&self, url: Url) -> Result<MountConfig, String> {
        let mut cfg = MountConfig::new(url);
        cfg.cache_size = self.cache_size;
        cfg.block_size = self.block_size;
        cfg.read_ahead_blocks = self.read_ahead_blocks;
        cfg.tree.listing_ttl = Duration::from_secs(self.listing_ttl);
        cfg.tree.finished_ttl = Duration::from_secs(self.job_ttl);
        cfg.tree.active_ttl = Duration::from_secs(self.active_ttl);
        cfg.tree.plain_names = self.plain_names;
        cfg.http.connect_timeout = seconds("--connect-timeout", self.connect_timeout)?;
        cfg.http.read_timeout = seconds("--read-timeout", self.read_timeout)?;
        cfg.http.retry.retries = self.retries;
        cfg.http.retry.max_time = seconds("--retry-max-time", self.retry_max_time)?;
        for h in &self.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("--header {h:?} is not `Name: value`"))?;
            cfg.http
                .headers
                .push((name.trim().into(), value.trim().into()));
        }
        cfg.http.token = match (&self.token_file, std::env::var("WEAVERFS_TOKEN")) {
            (Some(path), _) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("token file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            (None, Ok(token)) if !token.trim().is_empty() => Some(token.trim().to_string()),
            _ => None,
        };
        Ok(cfg)
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "weaverfs=info",
        1 => "weaverfs=debug",
        _ => "weaverfs=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weaverfs")
        .build()
        .expect("cannot start the tokio runtime")
}

fn run(cli: Cli) -> Result<(), String> {
    let rt = runtime();
    match cli.command {
        Command::Mount {
            url,
            mountpoint,
            opts,
        } => mount_and_serve(&opts.config(url)?, &mountpoint, &rt),
        Command::Demo {
            mountpoint,
            addr,
            opts,
        } => {
            let server = rt
                .block_on(TestServer::start_on(addr, ServerConfig::default()))
                .map_err(|e| format!("cannot start the sample server on {addr}: {e}"))?;
            eprintln!("weaverfs: sample server at {}", server.api_url());
            let url = Url::parse(&server.api_url()).map_err(|e| e.to_string())?;
            mount_and_serve(&opts.config(url)?, &mountpoint, &rt)
        }
        Command::Serve {
            addr,
            big_file_size,
            latency_ms,
            ignore_range,
            extra_jobs,
            jobs_dir,
            files_url,
        } => {
            let cfg = ServerConfig {
                latency: Duration::from_millis(latency_ms),
                ignore_range,
                big_file_size,
                extra_jobs,
                jobs_dir,
                ..ServerConfig::default()
            };
            rt.block_on(async {
                let server = TestServer::start_on(addr, cfg)
                    .await
                    .map_err(|e| format!("cannot start the sample server on {addr}: {e}"))?;
                if let Some(url) = files_url {
                    server.set_files_url(Some(url.as_str().trim_end_matches('/').to_owned()));
                }
                println!("{}", server.api_url());
                eprintln!(
                    "weaverfs: sample server at {} (Ctrl-C to stop)",
                    server.api_url()
                );
                let _ = tokio::signal::ctrl_c().await;
                server.shutdown().await;
                Ok(())
            })
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weaverfs: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
