//! Credentials, and the one rule for where they go: to the API's origin and to the origins the
//! user names (`--auth-origin`), never elsewhere (an href or a redirect to another host gets
//! none). Schemes: extra headers, a bearer token (re-read when its file changes), cookies,
//! HTTP Basic (given or from a netrc file) and a Magpie sign-in ticket.

pub mod args;
pub mod config;
pub mod cookies;
pub mod magpie;
pub mod netrc;
pub mod secret;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, COOKIE};
use url::{Origin, Url};

use crate::error::FsError;
use cookies::Cookie;
use magpie::{Magpie, MagpieOptions};
use netrc::Login;
use secret::{Secret, WatchedFile};

/// Where the bearer token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// From `WEAVERFS_TOKEN` or the config file.
    Value(Secret),
    /// A private file, read again when it changes.
    File(PathBuf),
}

/// What the user asked for (secrets are redacted in `Debug`).
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    /// Origins that get the credentials besides the API's.
    pub origins: Vec<Origin>,
    /// Extra headers, `(name, value)`.
    pub headers: Vec<(String, Secret)>,
    pub token: Option<TokenSource>,
    /// Cookies from the config file's `cookie` string.
    pub cookies: Vec<Cookie>,
    /// A Netscape cookie file, read again when it changes.
    pub cookie_file: Option<PathBuf>,
    /// HTTP Basic for every origin that gets credentials.
    pub basic: Option<Login>,
    /// A netrc file: HTTP Basic per host.
    pub netrc: Option<PathBuf>,
    pub magpie: Option<MagpieOptions>,
}

impl AuthOptions {
    /// Signs in as `user`: to the Magpie at `magpie_url` (its cookie named `magpie_cookie`, else
    /// Magpie's default), or with HTTP Basic when there is none.
    pub fn sign_in(
        &mut self,
        user: String,
        password: Secret,
        magpie_url: Option<Url>,
        magpie_cookie: Option<String>,
    ) {
        match magpie_url {
            Some(url) => {
                self.magpie = Some(MagpieOptions {
                    url,
                    user,
                    password,
                    cookie_name: magpie_cookie.unwrap_or_else(|| magpie::DEFAULT_COOKIE.into()),
                })
            }
            None => self.basic = Some(Login { user, password }),
        }
    }
}

/// The credentials of a mount, ready to attach to requests.
#[derive(Debug)]
pub struct Credentials {
    origins: Vec<Origin>,
    headers: HeaderMap,
    token: Option<Token>,
    cookies: Vec<Cookie>,
    cookie_file: Option<(WatchedFile, Mutex<Vec<Cookie>>)>,
    /// `Authorization: Basic` per origin.
    basic: Vec<(Origin, HeaderValue)>,
    magpie: Option<Magpie>,
    /// Bumped whenever a credential changes, so a request refused with an old one is retried.
    generation: AtomicU64,
    /// Held while renewing, so many refused requests renew once.
    renewing: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
enum Token {
    Fixed(HeaderValue),
    File(WatchedFile),
}

fn sensitive(value: &str, what: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| format!("{what} holds characters not allowed in an HTTP header"))?;
    v.set_sensitive(true);
    Ok(v)
}

fn bearer(token: &Secret) -> Result<HeaderValue, String> {
    let token = token.expose().trim();
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    sensitive(&format!("Bearer {token}"), "the token")
}

fn basic(login: &Login) -> Result<HeaderValue, String> {
    let pair = format!("{}:{}", login.user, login.password.expose());
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    sensitive(&format!("Basic {encoded}"), "the user name")
}

/// The origin of `--auth-origin` text: `scheme://host[:port]` (a path is ignored).
pub fn parse_origin(text: &str) -> Result<Origin, String> {
    let url = Url::parse(text).map_err(|e| format!("auth origin {text:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("auth origin {text:?} is not http(s)://host[:port]"));
    }
    Ok(url.origin())
}

impl Credentials {
    /// Checks and loads the credentials for a mount of `api`. Errors never show a secret.
    pub fn new(api: &Url, opts: &AuthOptions) -> Result<Self, String> {
        let mut origins = vec![api.origin()];
        for o in &opts.origins {
            if !origins.contains(o) {
                origins.push(o.clone());
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &opts.headers {
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            headers.append(
                name.clone(),
                sensitive(value.expose().trim(), &format!("header {name}"))?,
            );
        }
        let token = match &opts.token {
            None => None,
            Some(TokenSource::Value(t)) => Some(Token::Fixed(bearer(t)?)),
            Some(TokenSource::File(path)) => {
                let file = WatchedFile::open(path)?;
                bearer(&file.current(true).0)
                    .map_err(|e| format!("token file {}: {e}", path.display()))?;
                Some(Token::File(file))
            }
        };
        let cookie_file = match &opts.cookie_file {
            None => None,
            Some(path) => {
                let file = WatchedFile::open(path)?;
                let parsed = cookies::parse_netscape(file.current(true).0.expose())
                    .map_err(|e| format!("cookie file {}: {e}", path.display()))?;
                Some((file, Mutex::new(parsed)))
            }
        };
        let mut basic_by_origin = Vec::new();
        if let Some(login) = &opts.basic {
            let value = basic(login)?;
            basic_by_origin = origins.iter().map(|o| (o.clone(), value.clone())).collect();
        }
        if let Some(path) = &opts.netrc {
            let text = secret::read_private(path)?;
            for origin in &origins {
                let host = origin_host(origin);
                let found = netrc::lookup(text.expose(), &host)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                match found {
                    Some(login) => basic_by_origin.push((origin.clone(), basic(&login)?)),
                    None if *origin == api.origin() => {
                        return Err(format!("{} has no login for {host}", path.display()))
                    }
                    None => {}
                }
            }
        }
        let authorizations = [
            headers.contains_key(AUTHORIZATION),
            token.is_some(),
            opts.basic.is_some(),
            opts.netrc.is_some(),
        ];
        if authorizations.iter().filter(|&&a| a).count() > 1 {
            return Err(
                "more than one Authorization given (a header, a token, a user or a \
                        netrc file): choose one"
                    .into(),
            );
        }
        Ok(Credentials {
            origins,
            headers,
            token,
            cookies: opts.cookies.clone(),
            cookie_file,
            basic: basic_by_origin,
            magpie: opts.magpie.clone().map(Magpie::new),
            generation: AtomicU64::new(0),
            renewing: tokio::sync::Mutex::new(()),
        })
    }

    /// Whether `url` is on an origin that gets the credentials.
    pub fn applies_to(&self, url: &Url) -> bool {
        let origin = url.origin();
        self.origins.contains(&origin) || self.magpie.as_ref().is_some_and(|m| m.origin() == origin)
    }

    /// Signs in where a scheme needs it (Magpie), so bad credentials fail the mount at once.
    pub async fn start(&self, client: &reqwest::Client) -> Result<(), FsError> {
        if let Some(m) = &self.magpie {
            m.sign_in(client).await?;
        }
        Ok(())
    }

    /// A counter that changes whenever a credential does; pass it to [`Credentials::renew`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The headers for a request to `url`: none unless its origin gets credentials.
    pub async fn headers_for(
        &self,
        client: &reqwest::Client,
        url: &Url,
    ) -> Result<HeaderMap, FsError> {
        let origin = url.origin();
        let allowed = self.origins.contains(&origin);
        let magpie = self
            .magpie
            .as_ref()
            .filter(|m| allowed || m.origin() == origin);
        let mut out = HeaderMap::new();
        let mut cookie_pairs: Vec<String> = Vec::new();
        if allowed {
            out = self.headers.clone();
            if let Some(value) = self.authorization(&origin) {
                out.insert(AUTHORIZATION, value);
            }
            let from_file = self.file_cookies();
            for c in self.cookies.iter().chain(from_file.iter()) {
                if c.matches(url) {
                    cookie_pairs.push(format!("{}={}", c.name, c.value));
                }
            }
        }
        if let Some(m) = magpie {
            cookie_pairs.push(m.cookie(client).await?.expose().to_string());
        }
        if !cookie_pairs.is_empty() {
            // One Cookie header: a `-H 'Cookie: …'` and ours are joined.
            if let Some(given) = out.get(COOKIE).and_then(|v| v.to_str().ok()) {
                cookie_pairs.insert(0, given.to_string());
            }
            let value = sensitive(&cookie_pairs.join("; "), "a cookie")
                .map_err(|e| FsError::Io(e.to_string()))?;
            out.insert(COOKIE, value);
        }
        Ok(out)
    }

    fn authorization(&self, origin: &Origin) -> Option<HeaderValue> {
        match &self.token {
            Some(Token::Fixed(v)) => return Some(v.clone()),
            Some(Token::File(file)) => {
                let (token, changed) = file.current(false);
                if changed {
                    self.bump();
                }
                match bearer(&token) {
                    Ok(v) => return Some(v),
                    Err(e) => tracing::warn!("token file {}: {e}", file.path().display()),
                }
            }
            None => {}
        }
        self.basic
            .iter()
            .find(|(o, _)| o == origin)
            .map(|(_, v)| v.clone())
    }

    fn file_cookies(&self) -> Vec<Cookie> {
        let Some((file, parsed)) = &self.cookie_file else {
            return Vec::new();
        };
        let mut parsed = parsed.lock().unwrap_or_else(|e| e.into_inner());
        let (text, changed) = file.current(false);
        if changed {
            match cookies::parse_netscape(text.expose()) {
                Ok(c) => {
                    *parsed = c;
                    self.bump();
                }
                Err(e) => tracing::warn!("cookie file {}: {e}", file.path().display()),
            }
        }
        parsed.clone()
    }

    /// After a 401/403 from an origin that got credentials: whether they changed since
    /// `seen` (a rotated token file, a new Magpie ticket), so the request is worth one retry.
    pub async fn renew(&self, client: &reqwest::Client, seen: u64) -> bool {
        if self.generation() != seen {
            return true;
        }
        let _one = self.renewing.lock().await;
        if self.generation() != seen {
            return true;
        }
        if let Some(Token::File(file)) = &self.token {
            if file.current(true).1 {
                self.bump();
                return true;
            }
        }
        if let Some(m) = &self.magpie {
            match m.sign_in(client).await {
                Ok(_) => {
                    self.bump();
                    return true;
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
        false
    }
}

fn origin_host(origin: &Origin) -> String {
    match origin {
        Origin::Tuple(_, host, _) => host.to_string(),
        Origin::Opaque(_) => String::new(),
    }
}

#[cfg(test)]
mod tests;
