//! Magpie sign-in (birdhouse's AuthN service in front of Weaver): `POST {magpie}/signin` with
//! the user name and password; the answer sets the `auth_tkt` cookie, which then goes with
//! requests to the API (Twitcher checks it). Signed in once, and again when the ticket is
//! refused, rather than on every request as `requests_magpie` does.

use std::sync::RwLock;

use reqwest::header::{CONTENT_TYPE, SET_COOKIE};
use reqwest::StatusCode;
use url::Url;

use super::secret::Secret;
use crate::error::FsError;

/// Cookie Magpie sets unless configured otherwise (`MAGPIE_COOKIE_NAME`).
pub const DEFAULT_COOKIE: &str = "auth_tkt";

#[derive(Debug, Clone)]
pub struct MagpieOptions {
    /// Magpie's base URL, e.g. `https://host/magpie`.
    pub url: Url,
    pub user: String,
    pub password: Secret,
    pub cookie_name: String,
}

/// A Magpie account and its current ticket.
#[derive(Debug)]
pub struct Magpie {
    opts: MagpieOptions,
    ticket: RwLock<Option<Secret>>,
    /// Held while signing in, so concurrent refusals lead to one sign-in.
    signing_in: tokio::sync::Mutex<()>,
}

impl Magpie {
    pub fn new(opts: MagpieOptions) -> Self {
        Magpie {
            opts,
            ticket: RwLock::new(None),
            signing_in: tokio::sync::Mutex::new(()),
        }
    }

    pub fn origin(&self) -> url::Origin {
        self.opts.url.origin()
    }

    /// The `name=value` pair for a `Cookie` header, signing in first if there is no ticket.
    pub async fn cookie(&self, client: &reqwest::Client) -> Result<Secret, FsError> {
        let ticket = match self.current() {
            Some(t) => t,
            None => {
                let _one = self.signing_in.lock().await;
                match self.current() {
                    Some(t) => t,
                    None => self.sign_in(client).await?,
                }
            }
        };
        Ok(Secret::new(format!(
            "{}={}",
            self.opts.cookie_name,
            ticket.expose()
        )))
    }

    fn current(&self) -> Option<Secret> {
        self.ticket
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `POST {magpie}/signin`; keeps and returns the ticket. Errors name the user and URL,
    /// never the password or ticket.
    pub async fn sign_in(&self, client: &reqwest::Client) -> Result<Secret, FsError> {
        let url = format!("{}/signin", self.opts.url.as_str().trim_end_matches('/'));
        let what = format!("Magpie sign-in as {} at {url}", self.opts.user);
        let body = serde_json::json!({
            "user_name": self.opts.user,
            "password": self.opts.password.expose(),
            "provider_name": "ziggurat",
        });
        let resp = client
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| crate::client::http::transport_error(&what, e))?;
        let status = resp.status();
        let prefix = format!("{}=", self.opts.cookie_name);
        let ticket = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix(&prefix))
            .map(|rest| rest.split(';').next().unwrap_or("").trim().to_string());
        match ticket {
            Some(t) if !t.is_empty() && (status.is_success() || status.is_redirection()) => {
                tracing::info!("{what}: signed in");
                let t = Secret::new(t);
                *self.ticket.write().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
                Ok(t)
            }
            _ if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                Err(FsError::Denied(format!(
                    "{what}: {status}: check the user name and password"
                )))
            }
            _ => Err(FsError::Io(format!(
                "{what}: {status} without a `{}` cookie",
                self.opts.cookie_name
            ))),
        }
    }
}
