//! The `weaverfs` command: `mount`, `unmount`, `get` (a job to a directory, without FUSE), `stats`,
//! `demo` (mount the built-in sample server) and `serve`. Run as `mount.weaverfs` (a symlink), it
//! is the helper mount(8) calls.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use url::Url;

use cli::MountingArgs;
use weaverfs_fs::cache::DiskLimits;
use weaverfs_fs::client::auth::args::AuthArgs;
use weaverfs_fs::client::proxy::ProxyOptions;
use weaverfs_fs::get::{GetOptions, ProgressMode};
use weaverfs_fs::mount::logging::{self, LogTarget};
use weaverfs_fs::mount::{daemon, helper as mount_helper, mountpoint};
use weaverfs_fs::mount::{mount_and_serve, MountConfig};
use weaverfs_server::{ServerConfig, TestServer};

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
    /// Mount a server: `weaverfs mount https://host/weaver /mnt/w`. Returns once mounted and
    /// serves in the background (or with --foreground, until Ctrl-C); `weaverfs unmount`,
    /// SIGTERM or SIGINT unmounts.
    Mount {
        /// The server's URL, under which `/jobs` is served, or a server named in the config file.
        #[arg(value_name = "URL|NAME")]
        source: String,
        mountpoint: PathBuf,
        #[command(flatten)]
        opts: MountArgs,
        #[command(flatten)]
        mounting: MountingArgs,
    },
    /// Unmount a weaverfs (or any FUSE) mount; its daemon then exits.
    Unmount {
        mountpoint: PathBuf,
        /// Detach it now even if files are open in it (they fail once the daemon exits).
        #[arg(short = 'z', long)]
        lazy: bool,
    },
    /// Start the built-in sample server and mount it (for a first look and for tests).
    Demo {
        mountpoint: PathBuf,
        /// Address of the sample server.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        #[command(flatten)]
        opts: MountArgs,
        #[command(flatten)]
        mounting: MountingArgs,
    },
    /// Write a job's results (outputs and `.job/`) to a directory, as the mount shows them,
    /// without FUSE. Resumes an interrupted run; exits non-zero naming what failed.
    Get {
        /// The server's URL, under which `/jobs` is served.
        url: Url,
        job: String,
        /// The directory to write the job's tree into (default: ./JOB).
        #[arg(short = 'o', long = "output")]
        out_dir: Option<PathBuf>,
        /// Files fetched at once.
        #[arg(long, default_value_t = 4)]
        parallel_files: usize,
        /// Range requests in flight per file.
        #[arg(long, default_value_t = 8)]
        parallel_ranges: usize,
        /// No progress bars, even on a terminal.
        #[arg(short, long, conflicts_with = "progress")]
        quiet: bool,
        /// Progress bars even when stderr is not a terminal.
        #[arg(long)]
        progress: bool,
        #[command(flatten)]
        opts: MountArgs,
    },
    /// Show what a --cache-dir holds (bytes, files, hit rate, how much of each file), or
    /// empty it with --clear (mounts using it keep working and fetch again).
    Cache {
        dir: PathBuf,
        #[arg(long)]
        clear: bool,
    },
    /// Show a mount's counters (requests, bytes, cache, errors, latency) as a table.
    Stats {
        mountpoint: PathBuf,
        /// Print the raw `.weaverfs/stats.json` instead.
        #[arg(long)]
        json: bool,
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
    /// Keep file blocks on disk in DIR too, across unmounts and reboots; several mounts may
    /// share one DIR (see `weaverfs cache DIR`).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Largest size of --cache-dir (blocks as allocated on disk).
    #[arg(long, default_value = "10G", value_parser = parse_size)]
    cache_dir_size: u64,
    /// Percent of the cache directory's filesystem always left free.
    #[arg(long, default_value_t = 5.0)]
    cache_dir_min_free: f64,
    /// Proxies, CVMFS style: `http://a:3128|http://b:3128;DIRECT` (`|` shares the load, `;`
    /// fails over in order, DIRECT is no proxy). Default: HTTP_PROXY/HTTPS_PROXY/NO_PROXY.
    #[arg(long, value_name = "LIST")]
    proxy: Option<String>,
    /// Send the requests for ORIGIN (an href file host) to a site cache in front of it:
    /// `https://files.example.org=http://cache.site:3129` (repeatable).
    #[arg(long, value_name = "ORIGIN=URL")]
    site_cache: Vec<String>,
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
    #[command(flatten)]
    auth: AuthArgs,
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

/// One malloc arena for all threads: a block freed on one thread is reused by the next fetch on
/// another, instead of stranding in per-thread arenas. This keeps the daemon's memory within the
/// block cache budget plus ~30 MiB (measured: 280 MiB instead of 317 MiB for a 256 MiB cache).
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
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
    fn config(&self, source: &str) -> Result<MountConfig, String> {
        let resolved = self.auth.resolve(source)?;
        let mut cfg = MountConfig::new(resolved.url);
        cfg.http.auth = resolved.auth;
        cfg.http.tls = resolved.tls;
        cfg.cache_size = self.cache_size;
        if !(0.0..100.0).contains(&self.cache_dir_min_free) {
            return Err("--cache-dir-min-free must be a percentage below 100".into());
        }
        cfg.disk_cache = self.cache_dir.clone().map(|dir| {
            let limits = DiskLimits {
                max_bytes: self.cache_dir_size,
                min_free: self.cache_dir_min_free / 100.0,
            };
            (dir, limits)
        });
        if let Some(list) = &self.proxy {
            cfg.http.proxy.groups = ProxyOptions::parse_list(list)?;
        }
        for arg in &self.site_cache {
            cfg.http
                .proxy
                .site_caches
                .push(ProxyOptions::parse_site_cache(arg)?);
        }
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
        Ok(cfg)
    }
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
            source,
            mountpoint,
            opts,
            mounting,
        } => {
            let mut cfg = opts.config(&source)?;
            mounting.apply(&mut cfg);
            mount_and_serve(&cfg, &mountpoint, &rt)
        }
        Command::Unmount { mountpoint, lazy } => mountpoint::unmount(&mountpoint, lazy),
        Command::Demo {
            mountpoint,
            addr,
            opts,
            mounting,
        } => {
            let server = rt
                .block_on(TestServer::start_on(addr, ServerConfig::default()))
                .map_err(|e| format!("cannot start the sample server on {addr}: {e}"))?;
            tracing::info!("sample server at {}", server.api_url());
            let mut cfg = opts.config(&server.api_url())?;
            mounting.apply(&mut cfg);
            mount_and_serve(&cfg, &mountpoint, &rt)
        }
        Command::Get {
            url,
            job,
            out_dir,
            parallel_files,
            parallel_ranges,
            quiet,
            progress,
            opts,
        } => {
            let progress = match (quiet, progress) {
                (true, _) => ProgressMode::Never,
                (_, true) => ProgressMode::Always,
                _ => ProgressMode::Auto,
            };
            let get = GetOptions {
                out_dir: out_dir.unwrap_or_else(|| PathBuf::from(&job)),
                job,
                files: parallel_files,
                ranges: parallel_ranges,
                progress,
            };
            weaverfs_fs::get::run(&opts.config(url.as_str())?, &get, &rt)
        }
        Command::Cache { dir, clear } => weaverfs_fs::cache::disk::print_report(&dir, clear),
        Command::Stats { mountpoint, json } => weaverfs_fs::stats::print_stats(&mountpoint, json),
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

/// The command line, translated first when run as the mount(8) helper.
fn parse_cli() -> Cli {
    let args: Vec<_> = std::env::args_os().collect();
    if !args
        .first()
        .is_some_and(|a| mount_helper::is_helper_name(a))
    {
        return Cli::parse();
    }
    match mount_helper::translate(&args[1..]) {
        Ok(mount_helper::Request::Mount(argv)) => Cli::parse_from(argv),
        Ok(mount_helper::Request::Fake) => std::process::exit(0),
        Err(e) => {
            eprintln!("mount.weaverfs: {e}");
            std::process::exit(1)
        }
    }
}

fn main() -> ExitCode {
    one_malloc_arena();
    let cli = parse_cli();
    let mounting = match &cli.command {
        Command::Mount { mounting, .. } | Command::Demo { mounting, .. } => Some(mounting.clone()),
        _ => None,
    };
    if mounting.as_ref().is_some_and(|m| !m.foreground) {
        if let Err(e) = daemon::detach() {
            eprintln!("weaverfs: {e}");
            return ExitCode::FAILURE;
        }
    }
    let target = mounting
        .as_ref()
        .map_or(LogTarget::Stderr, |m| m.log_target());
    let logs_to_stderr = matches!(target, LogTarget::Stderr);
    let result = logging::init(cli.verbose, target).and_then(|()| run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !logs_to_stderr {
                tracing::error!("{e}");
            }
            if daemon::is_detached() {
                daemon::report_failure(&e);
            } else {
                eprintln!("weaverfs: {e}");
            }
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
