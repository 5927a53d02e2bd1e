//! The config file: named servers with their URL, credentials and TLS settings, so that
//! `weaverfs mount NAME /mnt/w` works. `$XDG_CONFIG_HOME/weaverfs/config.toml`, else
//! `~/.config/weaverfs/config.toml`; `--config FILE` overrides. A file that holds secrets must be
//! private to its owner, like a token file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::secret::{self, Secret};

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// One `[servers.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub url: String,
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// `name=value; name2=value2`
    pub cookie: Option<Secret>,
    pub cookie_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    /// Read `~/.netrc` for HTTP Basic logins.
    #[serde(default)]
    pub netrc: bool,
    pub netrc_file: Option<PathBuf>,
    pub magpie_url: Option<String>,
    /// Magpie's cookie name, if not `auth_tkt`.
    pub magpie_cookie: Option<String>,
    #[serde(default)]
    pub auth_origins: Vec<String>,
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub insecure: bool,
}

impl Server {
    fn holds_secrets(&self) -> bool {
        self.token.is_some()
            || self.password.is_some()
            || self.cookie.is_some()
            || !self.headers.is_empty()
    }

    /// Makes `~/x` and relative paths (relative to the config file's folder) absolute.
    fn resolve_paths(&mut self, dir: &Path) {
        for path in [
            &mut self.token_file,
            &mut self.cookie_file,
            &mut self.password_file,
            &mut self.netrc_file,
            &mut self.ca_cert,
        ]
        .into_iter()
        .flatten()
        {
            *path = dir.join(expand_home(path));
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub servers: BTreeMap<String, Server>,
}

/// `~/rest` under the home directory; other paths unchanged.
pub fn expand_home(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

/// The default config file: `$XDG_CONFIG_HOME/weaverfs/config.toml`, else
/// `~/.config/weaverfs/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("weaverfs").join("config.toml"))
}

/// Parses config text. Errors give the line and the reason, never the line itself (it may
/// hold a secret).
pub fn parse(text: &str) -> Result<Config, String> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let reason = e.message().trim().to_string();
        match line {
            Some(n) => format!("line {n}: {reason}"),
            None => reason,
        }
    })
}

/// Reads and checks a config file.
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut config = parse(&text).map_err(|e| format!("config {}: {e}", path.display()))?;
    if config.servers.values().any(Server::holds_secrets) {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        secret::check_private(path, &meta)?;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    for server in config.servers.values_mut() {
        server.resolve_paths(dir);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const EXAMPLE: &str = r#"
[servers.pavics]
url = "https://pavics.example.org/weaver"
magpie_url = "https://pavics.example.org/magpie"
user = "alice"
password_file = "pavics.password"

[servers.lab]
url = "https://lab.example.org/weaver"
token = "s3cret-token"
headers = { "X-Api-Key" = "k1" }
auth_origins = ["https://files.example.org"]
ca_cert = "~/lab-ca.pem"
"#;

    #[test]
    fn servers_with_their_settings() {
        let config = parse(EXAMPLE).unwrap();
        let pavics = &config.servers["pavics"];
        assert_eq!(pavics.user.as_deref(), Some("alice"));
        assert!(
            !pavics.holds_secrets(),
            "a password file is not a secret itself"
        );
        let lab = &config.servers["lab"];
        assert_eq!(lab.token.as_ref().unwrap().expose(), "s3cret-token");
        assert_eq!(lab.headers["X-Api-Key"].expose(), "k1");
        assert!(lab.holds_secrets());
        assert!(
            !format!("{lab:?}").contains("s3cret"),
            "Debug hides secrets"
        );
    }

    #[test]
    fn errors_name_the_line_not_its_text() {
        let err = parse("[servers.a]\nurl = \"x\"\ntoken = \"s3cret\n").unwrap_err();
        assert!(err.starts_with("line 3"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let err = parse("[servers.a]\nurl = \"x\"\ntokn = \"s3cret\"\n").unwrap_err();
        assert!(err.contains("tokn"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn files_with_secrets_must_be_private_and_paths_are_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = load(&path).unwrap();
        assert_eq!(
            config.servers["pavics"].password_file.as_deref(),
            Some(dir.path().join("pavics.password").as_path())
        );
        // Without secrets, a readable file is fine.
        std::fs::write(&path, "[servers.a]\nurl = \"http://h/w\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load(&path).unwrap().servers.contains_key("a"));
    }
}
