//! Proxies and site caches between the mount and the servers.
//!
//! - Without `--proxy`, reqwest follows `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`
//!   (and their lower-case forms) for every request, API and hrefs alike.
//! - `--proxy "http://a:3128|http://b:3128;DIRECT"` is a list in CVMFS's syntax: groups separated
//!   by `;` are tried in order (fail-over), the proxies of a group share the load (each mount
//!   prefers one of them, picked at random). A proxy that cannot be reached is skipped for
//!   [`RESET_AFTER`] and the next one is tried at once; `DIRECT` means no proxy. `NO_PROXY`
//!   still applies.
//! - `--site-cache ORIGIN=URL` sends the requests for an origin (an href file host) to a cache
//!   in front of it (a reverse-proxying Squid or nginx): the request goes to URL with the same
//!   path and query. Credentials are decided on the cache's URL, so the cache gets them only if
//!   it is named with `--auth-origin`; validators are still checked against the answer.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Url;

/// How long a proxy that failed is skipped (CVMFS_PROXY_RESET_AFTER's default).
pub const RESET_AFTER: Duration = Duration::from_secs(300);

/// One way to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Proxy(Url),
    Direct,
}

/// The proxy options of a mount.
#[derive(Debug, Clone, Default)]
pub struct ProxyOptions {
    /// Groups of routes, tried in order; empty: the environment's proxies.
    pub groups: Vec<Vec<Route>>,
    /// Origins (`scheme://host:port`) whose requests go to a site cache's URL instead.
    pub site_caches: Vec<(String, Url)>,
}

impl ProxyOptions {
    /// Parses a `--proxy` list: `URL|URL;URL;DIRECT`.
    pub fn parse_list(list: &str) -> Result<Vec<Vec<Route>>, String> {
        let mut groups = Vec::new();
        for group in list.split(';').map(str::trim).filter(|g| !g.is_empty()) {
            let mut routes = Vec::new();
            for member in group.split('|').map(str::trim) {
                if member.eq_ignore_ascii_case("DIRECT") {
                    routes.push(Route::Direct);
                    continue;
                }
                let url = Url::parse(member)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                    .ok_or_else(|| {
                        format!("--proxy: {member:?} is neither DIRECT nor an http(s) URL")
                    })?;
                routes.push(Route::Proxy(url));
            }
            groups.push(routes);
        }
        if groups.is_empty() {
            return Err("--proxy: an empty list".into());
        }
        Ok(groups)
    }

    /// Parses a `--site-cache ORIGIN=URL` mapping.
    pub fn parse_site_cache(arg: &str) -> Result<(String, Url), String> {
        let bad = || {
            format!("--site-cache {arg:?}: expected ORIGIN=URL (https://files.example.org=http://cache.site:3129)")
        };
        let (origin, cache) = arg.split_once('=').ok_or_else(bad)?;
        let origin = Url::parse(origin.trim()).map_err(|_| bad())?;
        let cache = Url::parse(cache.trim()).map_err(|_| bad())?;
        if !origin.has_host() || !cache.has_host() {
            return Err(bad());
        }
        Ok((origin.origin().ascii_serialization(), cache))
    }

    /// Whether requests may be answered by a shared cache: a proxy in the list or the
    /// environment, or a site cache. Reads then ask for whole aligned blocks only.
    pub fn goes_through_caches(&self) -> bool {
        let env = [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
        let listed = self
            .groups
            .iter()
            .flatten()
            .any(|r| matches!(r, Route::Proxy(_)));
        !self.site_caches.is_empty() || listed || (self.groups.is_empty() && env)
    }

    /// The URL a request for `url` goes to: its site cache's, if its origin has one.
    pub fn map(&self, url: &Url) -> Url {
        let origin = url.origin().ascii_serialization();
        let Some((_, cache)) = self.site_caches.iter().find(|(o, _)| *o == origin) else {
            return url.clone();
        };
        let mut mapped = cache.clone();
        mapped.set_path(&format!(
            "{}{}",
            cache.path().trim_end_matches('/'),
            url.path()
        ));
        mapped.set_query(url.query());
        mapped
    }
}

/// The routes of a `--proxy` list, each with its client, and which are failing.
#[derive(Debug)]
pub struct Routes {
    clients: Vec<(Route, reqwest::Client)>,
    /// Per group, the indexes of its routes, the preferred one first.
    groups: Vec<Vec<usize>>,
    bad_until: Mutex<Vec<Option<Instant>>>,
}

impl Routes {
    /// `build` makes the client of one route.
    pub fn new(
        groups: &[Vec<Route>],
        mut build: impl FnMut(&Route) -> Result<reqwest::Client, String>,
    ) -> Result<Routes, String> {
        let mut clients = Vec::new();
        let mut order = Vec::new();
        // Each mount prefers its own member of a group: the load spreads over the nodes.
        let pick = {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(std::process::id()) as usize
        };
        for group in groups {
            let first = clients.len();
            for route in group {
                clients.push((route.clone(), build(route)?));
            }
            let n = group.len();
            order.push((0..n).map(|k| first + (pick + k) % n).collect());
        }
        Ok(Routes {
            bad_until: Mutex::new(vec![None; clients.len()]),
            clients,
            groups: order,
        })
    }

    /// The routes to try, in order: healthy ones first, group by group; those skipped for a
    /// recent failure only after them, in case they are back.
    pub fn order(&self) -> Vec<usize> {
        let bad = self.bad_until.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let is_bad = |i: usize| bad[i].is_some_and(|until| until > now);
        let all: Vec<usize> = self.groups.iter().flatten().copied().collect();
        let mut order: Vec<usize> = all.iter().copied().filter(|&i| !is_bad(i)).collect();
        order.extend(all.iter().copied().filter(|&i| is_bad(i)));
        order
    }

    pub fn client(&self, i: usize) -> &reqwest::Client {
        &self.clients[i].1
    }

    pub fn route(&self, i: usize) -> &Route {
        &self.clients[i].0
    }

    /// Skips route `i` for [`RESET_AFTER`].
    pub fn failed(&self, i: usize) {
        let mut bad = self.bad_until.lock().unwrap_or_else(|e| e.into_inner());
        if bad[i].is_none_or(|until| until <= Instant::now()) {
            tracing::warn!(
                "proxy {:?} failed; skipping it for {}s",
                self.clients[i].0,
                RESET_AFTER.as_secs()
            );
        }
        bad[i] = Some(Instant::now() + RESET_AFTER);
    }

    /// Route `i` answered: it is used again in its turn.
    pub fn worked(&self, i: usize) {
        let mut bad = self.bad_until.lock().unwrap_or_else(|e| e.into_inner());
        bad[i] = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvmfs_style_lists() {
        let g = ProxyOptions::parse_list("http://a:3128|http://b:3128;DIRECT").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].len(), 2);
        assert_eq!(g[1], vec![Route::Direct]);
        assert!(ProxyOptions::parse_list("").is_err());
        assert!(ProxyOptions::parse_list("ftp://x").is_err());
        assert!(ProxyOptions::parse_list("a:3128").is_err());
    }

    #[test]
    fn failed_routes_go_last_until_they_reset() {
        let g = ProxyOptions::parse_list("http://a:1|http://b:1;DIRECT").unwrap();
        let r = Routes::new(&g, |_| Ok(reqwest::Client::new())).unwrap();
        let order = r.order();
        assert_eq!(order.len(), 3);
        assert_eq!(*r.route(order[2]), Route::Direct);
        let first = order[0];
        r.failed(first);
        let again = r.order();
        assert_ne!(again[0], first);
        assert_eq!(*r.route(again[1]), Route::Direct);
        assert_eq!(again[2], first);
        r.worked(first);
        assert_eq!(r.order(), order);
    }

    #[test]
    fn site_caches_map_an_origin_keeping_path_and_query() {
        let (o, c) =
            ProxyOptions::parse_site_cache("https://files.example.org=http://cache:3129/out")
                .unwrap();
        let opts = ProxyOptions {
            groups: vec![],
            site_caches: vec![(o, c)],
        };
        let u = Url::parse("https://files.example.org/wpsoutputs/a.nc?x=1").unwrap();
        assert_eq!(
            opts.map(&u).as_str(),
            "http://cache:3129/out/wpsoutputs/a.nc?x=1"
        );
        let other = Url::parse("https://files.example.org:8443/a.nc").unwrap();
        assert_eq!(opts.map(&other), other);
        assert!(opts.goes_through_caches());
        assert!(ProxyOptions::parse_site_cache("nonsense").is_err());
    }
}
