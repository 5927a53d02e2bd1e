//! The command-line options for credentials and TLS, and how they combine with the config
//! file and `WEAVERFS_TOKEN`. No option takes a secret as its value: secrets come from files,
//! the environment, the config file or a terminal prompt, so they never show in `ps`.

use std::path::PathBuf;

use url::Url;

use super::config::{self, Server};
use super::secret::{self, Secret};
use super::{cookies, parse_origin, AuthOptions, TokenSource};
use crate::client::tls::TlsOptions;

/// Environment variable holding a bearer token.
pub const TOKEN_ENV: &str = "WEAVERFS_TOKEN";

#[derive(clap::Args, Debug, Clone, Default)]
pub struct AuthArgs {
    /// Config file of named servers [default: $XDG_CONFIG_HOME/weaverfs/config.toml, else
    /// ~/.config/weaverfs/config.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An HTTP header for the API's origin, `Name: value` (repeatable). Visible in `ps`: put
    /// secret headers in the config file.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A file holding a bearer token, read again when it changes (or set WEAVERFS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// A Netscape cookies.txt file (as `curl -c` or `wget --save-cookies` write it).
    #[arg(long, value_name = "FILE")]
    pub cookie_file: Option<PathBuf>,
    /// User name for HTTP Basic, or for Magpie with --magpie-url.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// A file holding the password of --user; without it the password is asked for.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Take the HTTP Basic login from ~/.netrc.
    #[arg(long)]
    pub netrc: bool,
    /// Take the HTTP Basic login from this netrc file.
    #[arg(long, value_name = "FILE")]
    pub netrc_file: Option<PathBuf>,
    /// Sign in to this Magpie (https://host/magpie) as --user and send its auth_tkt cookie.
    #[arg(long, value_name = "URL")]
    pub magpie_url: Option<Url>,
    /// Another origin (`https://host[:port]`) that gets the credentials too (repeatable).
    #[arg(long = "auth-origin", value_name = "ORIGIN")]
    pub auth_origins: Vec<String>,
    /// A PEM file of CA certificates trusted besides the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify TLS certificates (anyone on the path can then read and change the data).
    #[arg(long)]
    pub insecure: bool,
}

/// A mount's server, credentials and TLS settings.
#[derive(Debug)]
pub struct Resolved {
    pub url: Url,
    pub auth: AuthOptions,
    pub tls: TlsOptions,
}

impl AuthArgs {
    /// Resolves `source`, an http(s) URL or the name of a server in the config file, and
    /// gathers the credentials: options first, then `WEAVERFS_TOKEN`, then the config file.
    /// May ask for a password on the terminal.
    pub fn resolve(&self, source: &str) -> Result<Resolved, String> {
        let server = if source.contains("://") {
            Server {
                url: source.to_string(),
                ..Server::default()
            }
        } else {
            self.named_server(source)?
        };
        let url = Url::parse(&server.url).map_err(|e| format!("{}: {e}", server.url))?;
        if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{url} is not an http(s) URL"));
        }
        let mut auth = AuthOptions::default();
        for o in server.auth_origins.iter().chain(&self.auth_origins) {
            auth.origins.push(parse_origin(o)?);
        }
        for (name, value) in &server.headers {
            auth.headers.push((name.clone(), value.clone()));
        }
        for h in &self.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| "a --header is not `Name: value`".to_string())?;
            auth.headers
                .push((name.trim().into(), Secret::new(value.trim())));
        }
        let env_token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty());
        auth.token = match (&self.token_file, env_token) {
            (Some(path), _) => Some(TokenSource::File(path.clone())),
            (None, Some(token)) => Some(TokenSource::Value(Secret::new(token))),
            _ => match (&server.token_file, &server.token) {
                (Some(path), _) => Some(TokenSource::File(path.clone())),
                (None, Some(token)) => Some(TokenSource::Value(token.clone())),
                _ => None,
            },
        };
        if let Some(c) = &server.cookie {
            auth.cookies =
                cookies::parse_pairs(c.expose()).map_err(|e| format!("config `cookie`: {e}"))?;
        }
        auth.cookie_file = self.cookie_file.clone().or(server.cookie_file.clone());
        auth.netrc = match (
            &self.netrc_file,
            self.netrc,
            &server.netrc_file,
            server.netrc,
        ) {
            (Some(path), ..) => Some(path.clone()),
            (None, true, ..) | (None, false, None, true) => {
                Some(config::expand_home("~/.netrc".as_ref()))
            }
            (None, false, Some(path), _) => Some(path.clone()),
            _ => None,
        };
        let magpie_url = match (&self.magpie_url, &server.magpie_url) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(u)) => Some(Url::parse(u).map_err(|e| format!("magpie_url {u}: {e}"))?),
            _ => None,
        };
        let user = self.user.clone().or(server.user.clone());
        match (user, magpie_url) {
            (None, Some(_)) => return Err("--magpie-url needs --user".into()),
            (None, None) => {}
            (Some(user), magpie_url) => {
                let host = magpie_url.as_ref().unwrap_or(&url).host_str().unwrap_or("");
                let password = self.password(&server, &user, host)?;
                auth.sign_in(user, password, magpie_url, server.magpie_cookie.clone());
            }
        }
        let tls = TlsOptions {
            ca_cert: self.ca_cert.clone().or(server.ca_cert.clone()),
            insecure: self.insecure || server.insecure,
        };
        Ok(Resolved { url, auth, tls })
    }

    fn named_server(&self, name: &str) -> Result<Server, String> {
        let path = self
            .config
            .clone()
            .or_else(config::default_path)
            .ok_or_else(|| format!("{name:?} is not a URL, and there is no config file"))?;
        if self.config.is_none() && !path.exists() {
            return Err(format!(
                "{name:?} is not an http(s) URL, and there is no config file {} naming servers",
                path.display()
            ));
        }
        let mut config = config::load(&path)?;
        let names: Vec<String> = config.servers.keys().cloned().collect();
        config.servers.remove(name).ok_or_else(|| {
            format!(
                "{name:?} is not an http(s) URL nor a server of {} (it has: {})",
                path.display(),
                names.join(", ")
            )
        })
    }

    /// The password of `user`: its file, the config file, else a prompt on the terminal.
    fn password(&self, server: &Server, user: &str, host: &str) -> Result<Secret, String> {
        if let Some(path) = self
            .password_file
            .as_ref()
            .or(server.password_file.as_ref())
        {
            let text = secret::read_private(path)?;
            // One line: a trailing newline is not part of the password.
            let line = text.expose().lines().next().unwrap_or("").to_string();
            return Ok(Secret::new(line));
        }
        if let Some(p) = &server.password {
            return Ok(p.clone());
        }
        rpassword::prompt_password(format!("Password for {user} at {host}: "))
            .map(Secret::new)
            .map_err(|e| {
                format!(
                    "no password for {user}: give --password-file FILE, or run in a terminal \
                     to be asked ({e})"
                )
            })
    }
}
