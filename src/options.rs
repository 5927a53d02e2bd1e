//! The options `mount` and `get` share, grouped as `--help` shows them, and the parsers of
//! sizes (`256M`, `1T`) and durations (`30`, `0.5`, `30s`, `5m`, `1.5h`, `200ms`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use weaverfs_fs::cache::DiskLimits;
use weaverfs_fs::client::auth::args::AuthArgs;
use weaverfs_fs::client::proxy::ProxyOptions;
use weaverfs_fs::mount::MountConfig;

/// Memory, disk and request sizes (mount and get).
#[derive(Args, Clone)]
#[command(next_help_heading = "Cache")]
pub struct CacheArgs {
    /// Memory for cached file blocks and the connections' receive buffers (e.g. 256M, 1G).
    #[arg(long, default_value = "256M", value_parser = parse_size, value_name = "SIZE")]
    pub cache_size: u64,
    /// Size of a cached block, and of most range requests.
    #[arg(long, default_value = "1M", value_parser = parse_size, value_name = "SIZE")]
    pub block_size: u64,
    /// Keep file blocks on disk in DIR too, across unmounts and reboots; several mounts may
    /// share one DIR (see `weaverfs cache DIR`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Largest size of --cache-dir (blocks as allocated on disk).
    #[arg(long, default_value = "10G", value_parser = parse_size, value_name = "SIZE")]
    pub cache_dir_size: u64,
    /// Percent of the cache directory's filesystem always left free.
    #[arg(long, default_value_t = 5.0, value_name = "PERCENT")]
    pub cache_dir_min_free: f64,
    /// Read files complete in --cache-dir through weaverfs, not by FUSE passthrough (the
    /// kernel reading the cache's file itself; it needs root, else it is off anyway).
    #[arg(long)]
    pub no_passthrough: bool,
    /// Keep bare output ids as file names (no extension added).
    #[arg(long)]
    pub plain_names: bool,
}

/// How long what the mount has seen is trusted, and how far it reads ahead (mount only).
#[derive(Args, Clone)]
#[command(next_help_heading = "Freshness and read-ahead")]
pub struct FreshArgs {
    /// The job listing is fetched again after this (30, 0.5, 30s, 5m).
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub listing_ttl: Duration,
    /// A finished job's status and file sizes are checked again after this.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub job_ttl: Duration,
    /// A running job's status and logs are checked again after this.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub active_ttl: Duration,
    /// Largest read-ahead of a sequential reader, in blocks (it grows while the reader waits
    /// for blocks and goes faster for it; at most half of --cache-size; 0: none).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub read_ahead_blocks: u64,
}

/// Timeouts, retries and proxies (mount and get).
#[derive(Args, Clone)]
#[command(next_help_heading = "Network")]
pub struct NetArgs {
    /// Wait this long for a connection.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Wait this long for any byte of a response.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub read_timeout: Duration,
    /// Retries of a failed read (network error, timeout, 429, 5xx, truncated body).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,
    /// All the attempts at one request together take at most this.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub retry_max_time: Duration,
    /// Requests in flight at once to one server (scheme, host and port), API and files
    /// together; a quarter of them is kept for what is asked now, not for read-ahead and the
    /// size probes of a listing. Also bounds the connections to it.
    #[arg(long, default_value_t = weaverfs_fs::client::limit::DEFAULT_MAX_REQUESTS_PER_ORIGIN,
          value_name = "N")]
    pub max_requests_per_origin: usize,
    /// Proxies, CVMFS style: `http://a:3128|http://b:3128;DIRECT` (`|` shares the load, `;`
    /// fails over in order, DIRECT is no proxy). Default: HTTP_PROXY/HTTPS_PROXY/NO_PROXY.
    #[arg(long, value_name = "LIST")]
    pub proxy: Option<String>,
    /// Send the requests for ORIGIN (an href file host) to a site cache in front of it:
    /// `https://files.example.org=http://cache.site:3129` (repeatable).
    #[arg(long, value_name = "ORIGIN=URL")]
    pub site_cache: Vec<String>,
}

/// What `mount` and `get` have in common.
#[derive(Args, Clone)]
pub struct ClientArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten, next_help_heading = "Credentials and TLS")]
    pub auth: AuthArgs,
}

impl ClientArgs {
    /// The configuration for `source` (a URL or a configured name); `fresh` for a mount.
    pub fn config(&self, source: &str, fresh: Option<&FreshArgs>) -> Result<MountConfig, String> {
        let resolved = self.auth.resolve(source)?;
        let mut cfg = MountConfig::new(resolved.url);
        cfg.http.auth = resolved.auth;
        cfg.http.tls = resolved.tls;
        cfg.cache_size = self.cache.cache_size;
        if !(0.0..100.0).contains(&self.cache.cache_dir_min_free) {
            return Err("--cache-dir-min-free must be a percentage below 100".into());
        }
        cfg.disk_cache = self.cache.cache_dir.clone().map(|dir| {
            let limits = DiskLimits {
                max_bytes: self.cache.cache_dir_size,
                min_free: self.cache.cache_dir_min_free / 100.0,
            };
            (dir, limits)
        });
        if let Some(list) = &self.net.proxy {
            cfg.http.proxy.groups = ProxyOptions::parse_list(list)?;
        }
        for arg in &self.net.site_cache {
            cfg.http
                .proxy
                .site_caches
                .push(ProxyOptions::parse_site_cache(arg)?);
        }
        cfg.block_size = self.cache.block_size;
        cfg.passthrough = !self.cache.no_passthrough;
        cfg.tree.plain_names = self.cache.plain_names;
        if let Some(f) = fresh {
            cfg.read_ahead_blocks = f.read_ahead_blocks;
            cfg.tree.listing_ttl = f.listing_ttl;
            cfg.tree.finished_ttl = f.job_ttl;
            cfg.tree.active_ttl = f.active_ttl;
        }
        cfg.http.connect_timeout = positive("--connect-timeout", self.net.connect_timeout)?;
        cfg.http.read_timeout = positive("--read-timeout", self.net.read_timeout)?;
        cfg.http.retry.retries = self.net.retries;
        if self.net.max_requests_per_origin == 0 {
            return Err("--max-requests-per-origin must be at least 1".into());
        }
        cfg.http.max_requests_per_origin = self.net.max_requests_per_origin;
        cfg.http.retry.max_time = positive("--retry-max-time", self.net.retry_max_time)?;
        Ok(cfg)
    }
}

fn positive(option: &str, d: Duration) -> Result<Duration, String> {
    match d.is_zero() {
        true => Err(format!("{option} must be more than 0")),
        false => Ok(d),
    }
}

/// `1.5G` as (1.5, "G"): a non-negative number, then what follows it.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    Some((number.parse().ok()?, unit))
}

/// `4096`, `256M`, `1G`, `1T`, `32MiB` (powers of 1024), `1.5G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (n, unit) = number_and_unit(s).ok_or_else(|| format!("bad size {s:?} (e.g. 256M, 1G)"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("bad size unit in {s:?} (use K, M, G or T)")),
    };
    let bytes = n * (1u64 << shift) as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("size {s:?} is too large"));
    }
    Ok(bytes.round() as u64)
}

/// Seconds (`30`, `0.5`) or a number with a unit: `ms`, `s`, `m`, `h` (`30s`, `5m`, `1.5h`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) =
        number_and_unit(s).ok_or_else(|| format!("bad duration {s:?} (e.g. 30s, 5m, 0.5)"))?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("1T"), Ok(1 << 40));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("s").is_err());
    }
}
