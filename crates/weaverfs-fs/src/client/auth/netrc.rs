//! `~/.netrc`: `machine HOST login USER password PASS` entries (and `default`), as curl, wget
//! and ftp read them. Only hosts that weaverfs sends credentials to are looked up.

use super::secret::Secret;

/// A login found for a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub password: Secret,
}

/// The login for `host`: its `machine` entry, else the `default` entry. Errors give a token's
/// position, never its text.
pub fn lookup(text: &str, host: &str) -> Result<Option<Login>, String> {
    let mut entries: Vec<(Option<String>, Option<String>, Option<String>)> = Vec::new();
    let mut in_macro = false;
    // `macdef` bodies run to the next blank line: drop them before splitting into tokens.
    let text: String = text
        .lines()
        .filter(|line| {
            if in_macro {
                in_macro = !line.trim().is_empty();
                return false;
            }
            in_macro = line.split_whitespace().next() == Some("macdef");
            !in_macro
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut tokens = text.split_whitespace();
    let mut n = 0;
    while let Some(token) = tokens.next() {
        n += 1;
        let mut value = |what: &str| {
            n += 1;
            tokens
                .next()
                .map(str::to_string)
                .ok_or_else(|| format!("netrc: `{what}` without a value at the end"))
        };
        match token {
            "machine" => entries.push((Some(value("machine")?), None, None)),
            "default" => entries.push((None, None, None)),
            "login" | "password" | "account" => {
                let v = value(token)?;
                let entry = entries
                    .last_mut()
                    .ok_or_else(|| format!("netrc: `{token}` before any `machine`"))?;
                match token {
                    "login" => entry.1 = Some(v),
                    "password" => entry.2 = Some(v),
                    _ => {}
                }
            }
            _ => return Err(format!("netrc: unexpected word number {n}")),
        }
    }
    let host = host.to_ascii_lowercase();
    let found = entries
        .iter()
        .find(|(m, _, _)| m.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&host)))
        .or_else(|| entries.iter().find(|(m, _, _)| m.is_none()));
    Ok(found.and_then(|(_, user, password)| {
        Some(Login {
            user: user.clone()?,
            password: Secret::new(password.clone().unwrap_or_default()),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "machine api.example.org login alice password s3cret\n\
                        macdef init\n  cd /pub\n  ls\n\n\
                        machine files.example.org\n  login bob\n  password pw2\n\
                        default login anon password guest\n";

    #[test]
    fn machine_then_default() {
        let alice = lookup(TEXT, "API.example.org").unwrap().unwrap();
        assert_eq!(alice.user, "alice");
        assert_eq!(alice.password.expose(), "s3cret");
        assert_eq!(
            lookup(TEXT, "files.example.org").unwrap().unwrap().user,
            "bob"
        );
        assert_eq!(lookup(TEXT, "other.org").unwrap().unwrap().user, "anon");
        let no_default = "machine a login u password p";
        assert_eq!(lookup(no_default, "b").unwrap(), None);
    }

    #[test]
    fn errors_do_not_show_passwords() {
        let err = lookup("machine a login u password p sec!ret", "a").unwrap_err();
        assert!(!err.contains("sec!ret"), "{err}");
        assert!(lookup("machine a login u password", "a").is_err());
        assert!(lookup("login u", "a").is_err());
    }
}
