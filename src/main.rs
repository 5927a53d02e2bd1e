//! The `weaverfs` command: `mount`, `unmount`, `get` (a job to a directory, without FUSE), `stats`,
//! `demo` (mount the built-in sample server), `serve webdav` (the same tree over WebDAV) and
//! `serve sample`. Run as `mount.weaverfs` (a symlink), it is the helper mount(8) calls.

mod cli;
mod options;
mod sample_control;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use url::Url;

use cli::MountingArgs;
use options::{parse_duration, parse_size, ClientArgs, FreshArgs};
use weaverfs_fs::get::{GetOptions, ProgressMode};
use weaverfs_fs::mount::logging::{self, LogTarget};
use weaverfs_fs::mount::mount_and_serve;
use weaverfs_fs::mount::{daemon, helper as mount_helper, mountpoint};
use weaverfs_fs::webdav;
use weaverfs_server::{ServerConfig, TestServer};

/// `0.1.0 (commit 1a2b3c4d5e6f)`: the build's git commit, from build.rs.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("WEAVERFS_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    version = VERSION,
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
        mounting: MountingArgs,
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        fresh: FreshArgs,
    },
    /// Unmount a weaverfs (or any FUSE) mount; its daemon then exits.
    #[command(visible_alias = "umount")]
    Unmount {
        mountpoint: PathBuf,
        /// Detach it now even if files are open in it (they fail once the daemon exits).
        #[arg(short = 'z', long)]
        lazy: bool,
    },
    /// Start the built-in sample server and mount it (for a first look and for tests); the
    /// mountpoint is made if missing.
    Demo {
        mountpoint: PathBuf,
        /// Address of the sample server.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
        #[command(flatten)]
        mounting: MountingArgs,
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        fresh: FreshArgs,
    },
    /// Write a job's results (outputs and `.job/`) to a directory, as the mount shows them,
    /// without FUSE. Resumes an interrupted run; exits non-zero naming what failed.
    Get {
        /// The server's URL (under which `/jobs` is served), a server named in the config
        /// file, or a job's URL (`https://host/weaver/jobs/JOB`, then without JOB).
        #[arg(value_name = "URL|NAME|JOB_URL")]
        source: String,
        job: Option<String>,
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
        /// Wait for a job that has not finished, checking it this often (--wait=30s; 5s).
        #[arg(long, value_name = "EVERY", num_args = 0..=1, require_equals = true,
              default_missing_value = "5s", value_parser = parse_duration)]
        wait: Option<Duration>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print a completion script for a shell: `weaverfs completions bash > ...`.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff): `weaverfs man > ~/.local/share/man/man1/weaverfs.1`.
    Man,
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
    /// Serve something until Ctrl-C: `serve webdav URL` the jobs over WebDAV, `serve sample`
    /// the built-in sample server.
    Serve {
        #[command(subcommand)]
        what: ServeCommand,
    },
}

/// What `weaverfs serve` serves.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run: boxing the options gains nothing
enum ServeCommand {
    /// The jobs of a server over read-only WebDAV, for machines without FUSE (Finder, Windows,
    /// GNOME Files, davfs2, fsspec, GDAL) and browsers: `serve webdav URL`, then open the URL
    /// it prints. In the foreground until Ctrl-C or SIGTERM.
    Webdav {
        /// The server's URL, under which `/jobs` is served, or a server named in the config file.
        #[arg(value_name = "URL|NAME")]
        source: String,
        /// Where to listen. Off loopback, clients must sign in (--htpasswd).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Users who may sign in (HTTP Basic): `USER:HASH` lines from `htpasswd -B`, or
        /// `USER:PASSWORD`. Every client reads with this gateway's own server credentials.
        #[arg(long, value_name = "FILE")]
        htpasswd: Option<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        fresh: FreshArgs,
    },
    /// The built-in sample server alone (it prints its API URL), for scripts and benchmarks.
    Sample {
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
        /// `{job-uuid}/{output}/{file}`, or `{job-uuid}/{file}` for an output named by its stem;
        /// an `{output}/` holding folders is a directory output.
        #[arg(long, value_name = "DIR")]
        jobs_dir: Option<PathBuf>,
        /// Base URL of the output files in hrefs (e.g. an nginx serving the same files);
        /// by default the server's own `/wpsoutputs`.
        #[arg(long, value_name = "URL")]
        files_url: Option<Url>,
        /// Take commands on standard input (for tests: `requests`, `clear-requests`,
        /// `bump PATH`), and stop when it closes.
        #[arg(long)]
        control: bool,
    },
}

/// A closed stdout (`weaverfs cache DIR | head -1`) ends a command quietly with success, as
/// coreutils' do: `println!` and the writers of clap panic on EPIPE (Rust ignores SIGPIPE),
/// and that one panic exits 0 here instead of printing a backtrace hint.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.contains("Broken pipe") && stdout_closed() {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Whether stdout is a pipe nobody reads any more.
fn stdout_closed() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own, without waiting.
    unsafe { libc::poll(&mut fd, 1, 0) == 1 && fd.revents & libc::POLLERR != 0 }
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
            mounting,
            client,
            fresh,
        } => {
            let mut cfg = client.config(&source, Some(&fresh))?;
            mounting.apply(&mut cfg);
            mount_and_serve(&cfg, &mountpoint, &rt)
        }
        Command::Unmount { mountpoint, lazy } => mountpoint::unmount(&mountpoint, lazy),
        Command::Demo {
            mountpoint,
            addr,
            mounting,
            client,
            fresh,
        } => {
            std::fs::create_dir_all(&mountpoint)
                .map_err(|e| format!("mountpoint {}: {e}", mountpoint.display()))?;
            let server = rt
                .block_on(TestServer::start_on(addr, ServerConfig::default()))
                .map_err(|e| format!("cannot start the sample server on {addr}: {e}"))?;
            tracing::info!("sample server at {}", server.api_url());
            let mut cfg = client.config(&server.api_url(), Some(&fresh))?;
            mounting.apply(&mut cfg);
            mount_and_serve(&cfg, &mountpoint, &rt)
        }
        Command::Get {
            source,
            job,
            out_dir,
            parallel_files,
            parallel_ranges,
            quiet,
            progress,
            wait,
            client,
        } => {
            let progress = match (quiet, progress) {
                (true, _) => ProgressMode::Never,
                (_, true) => ProgressMode::Always,
                _ => ProgressMode::Auto,
            };
            let (source, job) = job_source(source, job)?;
            let get = GetOptions {
                out_dir: out_dir.unwrap_or_else(|| PathBuf::from(&job)),
                job,
                files: parallel_files,
                ranges: parallel_ranges,
                progress,
                wait,
            };
            weaverfs_fs::get::run(&client.config(&source, None)?, &get, &rt)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "weaverfs",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe => Ok(()),
                _ => Err(format!("cannot write the man page: {e}")),
            }),
        Command::Cache { dir, clear } => weaverfs_fs::cache::disk::print_report(&dir, clear),
        Command::Stats { mountpoint, json } => weaverfs_fs::stats::print_stats(&mountpoint, json),
        Command::Serve {
            what:
                ServeCommand::Webdav {
                    source,
                    addr,
                    htpasswd,
                    client,
                    fresh,
                },
        } => {
            let cfg = client.config(&source, Some(&fresh))?;
            let users = htpasswd.as_deref().map(webdav::Users::load).transpose()?;
            webdav::run(&cfg, addr, users, &rt)
        }
        Command::Serve {
            what:
                ServeCommand::Sample {
                    addr,
                    big_file_size,
                    latency_ms,
                    ignore_range,
                    extra_jobs,
                    jobs_dir,
                    files_url,
                    control,
                },
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
                match control {
                    true => sample_control::serve(&server).await,
                    false => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
                server.shutdown().await;
                Ok(())
            })
        }
    }
}

/// `get SOURCE JOB`, or `get https://host/weaver/jobs/JOB`: the server and the job.
fn job_source(source: String, job: Option<String>) -> Result<(String, String), String> {
    if let Some(job) = job {
        return Ok((source, job));
    }
    let url = Url::parse(&source).map_err(|_| {
        format!(
            "which job? `weaverfs get {source} JOB`, or a job's URL (https://host/weaver/jobs/JOB)"
        )
    })?;
    let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    match segments.iter().rposition(|s| *s == "jobs") {
        Some(i) if i + 2 == segments.len() && !segments[i + 1].is_empty() => {
            let mut base = url.clone();
            base.set_path(&segments[..i].join("/"));
            base.set_query(None);
            let job = percent_decoded(segments[i + 1]);
            Ok((base.as_str().trim_end_matches('/').to_owned(), job))
        }
        _ => Err(format!(
            "which job? {source} is not a job's URL (https://host/weaver/jobs/JOB); give the job \
             after it"
        )),
    }
}

fn percent_decoded(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map_or_else(|| s.to_owned(), |(_, v)| v.into_owned())
}

/// The long options of `weaverfs mount`: what `-o NAME` may name, and whether it takes a value.
fn mount_option(name: &str) -> Option<bool> {
    let cli = Cli::command();
    let mount = cli.find_subcommand("mount")?;
    let arg = mount
        .get_arguments()
        .find(|a| a.get_long() == Some(name) && !a.is_positional())?;
    Some(arg.get_action().takes_values())
}

/// `-o a,b=c` (also `-oa,b=c`) of `weaverfs mount` and `demo` as long options, so that sshfs
/// and mount-s3 habits work and a mistake is named in `-o` terms.
fn expand_mount_options(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let is_mount = args
        .iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .is_some_and(|a| a == "mount" || a == "demo");
    if !is_mount {
        return Ok(args);
    }
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let opts = match arg.to_str() {
            Some("--") => {
                out.push(arg);
                out.extend(it);
                break;
            }
            Some("-o") => it
                .next()
                .ok_or("-o needs options (-o allow_other,cache_size=1G)")?,
            Some(s) if s.starts_with("-o") => OsString::from(&s[2..]),
            _ => {
                out.push(arg);
                continue;
            }
        };
        let opts = opts
            .into_string()
            .map_err(|_| "mount options must be UTF-8")?;
        out.extend(mount_helper::option_flags(&opts, &mount_option)?);
    }
    Ok(out)
}

/// `mount.weaverfs --help`.
fn helper_usage() -> String {
    let cli = Cli::command();
    let mount = cli.find_subcommand("mount").expect("mount is a subcommand");
    let mut names: Vec<String> = mount
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let name = long.replace('-', "_");
            Some(match a.get_action().takes_values() {
                true => format!("{name}=..."),
                false => name,
            })
        })
        .filter(|n| !matches!(n.as_str(), "help" | "version" | "foreground" | "read_only"))
        .collect();
    names.sort();
    format!(
        "usage: mount.weaverfs URL|NAME DIR [-sfnv] [-o OPT[,OPT=VAL]...]\n\n\
         The mount(8) helper for `mount -t weaverfs` and fstab. Each -o option is the\n\
         `weaverfs mount` option of that name (see `weaverfs mount --help`); mount(8) and systemd\n\
         options (_netdev, nofail, noauto, user, x-systemd.*, ro, ...) are ignored.\n\n\
         Options: {}\n",
        names.join(", ")
    )
}

fn fail(prefix: &str, e: String) -> ! {
    eprintln!("{prefix}: {e}");
    std::process::exit(1)
}

/// The command line, translated first when run as the mount(8) helper.
fn parse_cli() -> Cli {
    let args: Vec<_> = std::env::args_os().collect();
    if !args
        .first()
        .is_some_and(|a| mount_helper::is_helper_name(a))
    {
        let args = expand_mount_options(args).unwrap_or_else(|e| fail("weaverfs", e));
        return Cli::parse_from(args);
    }
    match mount_helper::translate(&args[1..], &mount_option) {
        Ok(mount_helper::Request::Mount(argv)) => match Cli::try_parse_from(argv) {
            Ok(cli) => cli,
            Err(e) => fail("mount.weaverfs", e.to_string().trim().replace("--", "-o ")),
        },
        Ok(mount_helper::Request::Fake) => std::process::exit(0),
        Ok(mount_helper::Request::Help) => {
            print!("{}", helper_usage());
            std::process::exit(0)
        }
        Err(e) => fail("mount.weaverfs", e),
    }
}

fn main() -> ExitCode {
    one_malloc_arena();
    quiet_on_closed_stdout();
    let mut cli = parse_cli();
    let mounting = match &cli.command {
        Command::Mount { mounting, .. } | Command::Demo { mounting, .. } => Some(mounting.clone()),
        _ => None,
    };
    if mounting.as_ref().is_some_and(|m| m.debug) {
        cli.verbose = cli.verbose.max(1);
    }
    if mounting.as_ref().is_some_and(|m| !m.foreground()) {
        if let Err(e) = daemon::detach() {
            eprintln!("weaverfs: {e}");
            return ExitCode::FAILURE;
        }
    }
    let target = mounting
        .as_ref()
        .map_or(LogTarget::Stderr, |m| m.log_target());
    let logs_to_stderr = matches!(target, LogTarget::Stderr);
    let result = logging::init(cli.verbose, target).and_then(|fallback| {
        if let Some(path) = fallback {
            daemon::report_note(&format!(
                "no syslog on this machine: logs go to {} (--log-file to choose)",
                path.display()
            ));
        }
        run(cli)
    });
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
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn job_urls_split_into_server_and_job() {
        let split = |s: &str| job_source(s.into(), None);
        assert_eq!(
            split("https://h/weaver/jobs/abc-1"),
            Ok(("https://h/weaver".into(), "abc-1".into()))
        );
        assert_eq!(
            split("http://127.0.0.1:9/jobs/x?f=json"),
            Ok(("http://127.0.0.1:9".into(), "x".into()))
        );
        assert!(split("https://h/weaver").is_err());
        assert!(split("pavics").is_err());
        assert_eq!(
            job_source("pavics".into(), Some("j".into())),
            Ok(("pavics".into(), "j".into()))
        );
    }

    fn expanded(s: &str) -> Result<Vec<String>, String> {
        let args = s.split(' ').map(OsString::from).collect();
        expand_mount_options(args)
            .map(|v| v.into_iter().map(|a| a.into_string().unwrap()).collect())
    }

    #[test]
    fn mount_takes_dash_o_options() {
        assert_eq!(
            expanded("weaverfs mount u /m -o allow_other,cache_size=1G,ro -oplain_names").unwrap(),
            [
                "weaverfs",
                "mount",
                "u",
                "/m",
                "--allow-other",
                "--cache-size",
                "1G",
                "--plain-names"
            ]
        );
        assert!(expanded("weaverfs mount u /m -o cachesize=1G")
            .unwrap_err()
            .contains("did you mean cache_size?"));
        assert_eq!(expanded("weaverfs get u j -o out").unwrap()[4], "-o");
    }
}
