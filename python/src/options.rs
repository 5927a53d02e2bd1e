//! A filesystem's options, as Python passes them (a dict of the `weaverfs mount` options in
//! snake_case, sizes in bytes, durations in seconds), made into the mount's configuration.
//! Credentials go through the mount's own resolution (`AuthArgs::resolve`): config-file
//! server names, `WEAVERFS_TOKEN`, token and cookie files, netrc, Basic, Magpie.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use url::Url;
use weaverfs_fs::cache::DiskLimits;
use weaverfs_fs::client::auth::args::AuthArgs;
use weaverfs_fs::client::auth::secret::Secret;
use weaverfs_fs::client::auth::TokenSource;
use weaverfs_fs::client::proxy::ProxyOptions;
use weaverfs_fs::mount::MountConfig;

/// Every option a filesystem takes; anything else is a mistake worth an error.
const KNOWN: &[&str] = &[
    "url",
    "config",
    "headers",
    "token",
    "token_file",
    "cookie_file",
    "user",
    "password",
    "password_file",
    "netrc",
    "netrc_file",
    "magpie_url",
    "auth_origins",
    "ca_cert",
    "insecure",
    "cache_size",
    "block_size",
    "cache_dir",
    "cache_dir_size",
    "cache_dir_min_free",
    "read_ahead_blocks",
    "listing_ttl",
    "job_ttl",
    "active_ttl",
    "plain_names",
    "connect_timeout",
    "read_timeout",
    "retries",
    "retry_max_time",
    "proxy",
    "site_cache",
];

struct Options<'a, 'py>(&'a Bound<'py, PyDict>);

impl<'py> Options<'_, 'py> {
    fn get<T: FromPyObjectOwned<'py>>(&self, key: &str) -> PyResult<Option<T>> {
        match self.0.get_item(key)? {
            Some(v) if !v.is_none() => v.extract::<T>().map(Some).map_err(|e| {
                let e: PyErr = e.into();
                PyValueError::new_err(format!("option {key}: {e}"))
            }),
            _ => Ok(None),
        }
    }

    fn duration(&self, key: &str) -> PyResult<Option<Duration>> {
        match self.get::<f64>(key)? {
            None => Ok(None),
            Some(s) => Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .map(Some)
                .ok_or_else(|| PyValueError::new_err(format!("option {key}: {s} is not > 0 s"))),
        }
    }
}

fn bad(e: String) -> PyErr {
    PyValueError::new_err(e)
}

/// The configuration made from `opts`.
pub fn config(opts: &Bound<'_, PyDict>) -> PyResult<MountConfig> {
    for key in opts.keys() {
        let key: String = key.extract()?;
        if !KNOWN.contains(&key.as_str()) {
            return Err(PyValueError::new_err(format!(
                "unknown option {key:?} (known: {})",
                KNOWN.join(", ")
            )));
        }
    }
    let o = Options(opts);
    let source: String = o.get("url")?.ok_or_else(|| {
        PyValueError::new_err(
            "url= is required: the server's API URL, or a server name of the config file",
        )
    })?;
    // A password given as a value is set after resolving (resolve would ask a terminal).
    let password: Option<String> = o.get("password")?;
    let user: Option<String> = o.get("user")?;
    let magpie_url = match o.get::<String>("magpie_url")? {
        Some(u) => Some(Url::parse(&u).map_err(|e| bad(format!("magpie_url {u}: {e}")))?),
        None => None,
    };
    let given_login = password.is_some();
    let args = AuthArgs {
        config: o.get::<PathBuf>("config")?,
        headers: Vec::new(),
        token_file: o.get("token_file")?,
        cookie_file: o.get("cookie_file")?,
        user: if given_login { None } else { user.clone() },
        password_file: o.get("password_file")?,
        netrc: o.get("netrc")?.unwrap_or(false),
        netrc_file: o.get("netrc_file")?,
        magpie_url: if given_login {
            None
        } else {
            magpie_url.clone()
        },
        auth_origins: o.get("auth_origins")?.unwrap_or_default(),
        ca_cert: o.get("ca_cert")?,
        insecure: o.get("insecure")?.unwrap_or(false),
    };
    let resolved = args.resolve(&source).map_err(bad)?;
    let mut cfg = MountConfig::new(resolved.url);
    cfg.http.auth = resolved.auth;
    cfg.http.tls = resolved.tls;
    let auth = &mut cfg.http.auth;
    let headers: Vec<(String, String)> = o.get("headers")?.unwrap_or_default();
    for (name, value) in headers {
        auth.headers.push((name, Secret::new(value)));
    }
    if let Some(token) = o.get::<String>("token")? {
        auth.token = Some(TokenSource::Value(Secret::new(token)));
    }
    if let Some(password) = password {
        let user = user.ok_or_else(|| bad("password= needs user=".into()))?;
        auth.sign_in(user, Secret::new(password), magpie_url, None);
    }

    if let Some(n) = o.get("cache_size")? {
        cfg.cache_size = n;
    }
    if let Some(n) = o.get("block_size")? {
        cfg.block_size = n;
    }
    if let Some(n) = o.get("read_ahead_blocks")? {
        cfg.read_ahead_blocks = n;
    }
    if let Some(dir) = o.get::<PathBuf>("cache_dir")? {
        let min_free: f64 = o.get("cache_dir_min_free")?.unwrap_or(5.0);
        if !(0.0..100.0).contains(&min_free) {
            return Err(bad(
                "cache_dir_min_free must be a percentage below 100".into()
            ));
        }
        let limits = DiskLimits {
            max_bytes: o.get("cache_dir_size")?.unwrap_or(10 << 30),
            min_free: min_free / 100.0,
        };
        cfg.disk_cache = Some((dir, limits));
    }
    // No kernel reads here: there is nothing to pass through.
    cfg.passthrough = false;
    cfg.tree.plain_names = o.get("plain_names")?.unwrap_or(false);
    if let Some(d) = o.duration("listing_ttl")? {
        cfg.tree.listing_ttl = d;
    }
    if let Some(d) = o.duration("job_ttl")? {
        cfg.tree.finished_ttl = d;
    }
    if let Some(d) = o.duration("active_ttl")? {
        cfg.tree.active_ttl = d;
    }
    if let Some(d) = o.duration("connect_timeout")? {
        cfg.http.connect_timeout = d;
    }
    if let Some(d) = o.duration("read_timeout")? {
        cfg.http.read_timeout = d;
    }
    if let Some(d) = o.duration("retry_max_time")? {
        cfg.http.retry.max_time = d;
    }
    if let Some(n) = o.get("retries")? {
        cfg.http.retry.retries = n;
    }
    if let Some(list) = o.get::<String>("proxy")? {
        cfg.http.proxy.groups = ProxyOptions::parse_list(&list).map_err(bad)?;
    }
    let site_caches: Vec<String> = o.get("site_cache")?.unwrap_or_default();
    for arg in site_caches {
        let cache = ProxyOptions::parse_site_cache(&arg).map_err(bad)?;
        cfg.http.proxy.site_caches.push(cache);
    }
    Ok(cfg)
}
