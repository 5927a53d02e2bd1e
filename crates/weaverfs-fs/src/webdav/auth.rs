//! HTTP Basic sign-in of the gateway's own clients (required off loopback). Their credentials
//! stay here: the core reads with the gateway's server credentials and never sees these.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use axum::http::{header, HeaderMap};
use base64::Engine;
use sha2::{Digest, Sha256};

/// How a user's password is kept in the file.
enum Secret {
    /// `htpasswd -B`: `$2y$...` (checked once per distinct Authorization header).
    Bcrypt(String),
    /// A plain password file line, `user:password`: compared by digest.
    Plain([u8; 32]),
}

pub struct Users {
    secrets: HashMap<String, Secret>,
    /// Digests of Authorization headers already verified by bcrypt, which is slow on purpose.
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// Verified headers remembered at most (then forgotten all at once, and verified again).
const MAX_VERIFIED: usize = 1024;

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Users {
    /// Reads `user:secret` lines (bcrypt from `htpasswd -B`, or plain text); `#` comments.
    pub fn load(path: &Path) -> Result<Users, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("password file {}: {e}", path.display()))?;
        Users::parse(&text).map_err(|e| format!("password file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Users, String> {
        let mut secrets = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, secret)) = line.split_once(':') else {
                return Err(format!("line {}: expected USER:PASSWORD", n + 1));
            };
            let secret = if ["$2a$", "$2b$", "$2y$"]
                .iter()
                .any(|p| secret.starts_with(p))
            {
                Secret::Bcrypt(secret.to_owned())
            } else if ["$apr1$", "{SHA}", "$1$", "$5$", "$6$"]
                .iter()
                .any(|p| secret.starts_with(p))
            {
                return Err(format!(
                    "line {}: only bcrypt hashes are supported (htpasswd -B), or plain passwords",
                    n + 1
                ));
            } else {
                Secret::Plain(digest(secret.as_bytes()))
            };
            secrets.insert(user.to_owned(), secret);
        }
        if secrets.is_empty() {
            return Err("no users in it".into());
        }
        Ok(Users {
            secrets,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Whether the request carries the Basic credentials of a user.
    pub async fn admit(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return false;
        };
        let key = digest(value.as_bytes());
        if self.verified().contains(&key) {
            return true;
        }
        let Some((user, password)) = basic_credentials(value.as_bytes()) else {
            return false;
        };
        let ok = match self.secrets.get(&user) {
            None => false,
            Some(Secret::Plain(d)) => *d == digest(password.as_bytes()),
            Some(Secret::Bcrypt(hash)) => {
                let hash = hash.clone();
                tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
                    .await
                    .is_ok_and(|r| r.unwrap_or(false))
            }
        };
        if ok {
            let mut verified = self.verified();
            if verified.len() >= MAX_VERIFIED {
                verified.clear();
            }
            verified.insert(key);
        }
        ok
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `Basic dXNlcjpwdw==` as `("user", "pw")`.
fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(user: &str, pw: &str) -> HeaderMap {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
        );
        h
    }

    #[tokio::test]
    async fn plain_and_bcrypt_users_sign_in_and_others_do_not() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let users = Users::parse(&format!("# users\nann:pw:with:colons\nbob:{hash}\n")).unwrap();
        assert!(users.admit(&basic("ann", "pw:with:colons")).await);
        assert!(users.admit(&basic("bob", "s3cret")).await);
        assert!(users.admit(&basic("bob", "s3cret")).await, "remembered");
        assert!(!users.admit(&basic("bob", "wrong")).await);
        assert!(!users.admit(&basic("eve", "pw")).await);
        assert!(!users.admit(&HeaderMap::new()).await);
    }

    #[test]
    fn unsupported_hashes_and_empty_files_are_refused() {
        let refused = Users::parse("ann:$apr1$abc$def").err().unwrap();
        assert!(refused.contains("htpasswd -B"), "{refused}");
        assert!(Users::parse("# nobody\n").is_err());
        assert!(Users::parse("no colon").is_err());
    }
}
