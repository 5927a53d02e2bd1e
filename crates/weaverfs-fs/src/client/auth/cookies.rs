//! Cookies given by the user: a Netscape `cookies.txt` (as curl `-c`, wget `--save-cookies` and
//! browser extensions write it) or a `name=value; name2=value2` string from the config file.

use url::Url;

/// One cookie and where it may be sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    /// Host the cookie belongs to, without a leading dot; None: any host weaverfs sends
    /// credentials to (cookies from the config file's `cookie` string).
    pub domain: Option<String>,
    /// Whether subdomains of `domain` match too.
    pub subdomains: bool,
    pub path: String,
    /// Sent over https only.
    pub secure: bool,
}

impl std::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookie")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Cookie {
    /// Whether this cookie goes with a request to `url` (the cookie rules of RFC 6265 §5.4,
    /// without expiry: an expired cookie is the server's to refuse).
    pub fn matches(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let domain_ok = match &self.domain {
            None => true,
            Some(d) if self.subdomains => host == *d || host.ends_with(&format!(".{d}")),
            Some(d) => host == *d,
        };
        let path = url.path();
        let path_ok = path == self.path
            || (path.starts_with(&self.path)
                && (self.path.ends_with('/') || path[self.path.len()..].starts_with('/')));
        domain_ok && path_ok && (!self.secure || url.scheme() == "https")
    }
}

/// Parses a Netscape cookie file: one cookie a line, seven tab-separated fields
/// (domain, include-subdomains, path, secure, expiry, name, value); `#` starts a comment,
/// except the `#HttpOnly_` prefix curl writes before a domain. Errors name the line, never
/// its content.
pub fn parse_netscape(text: &str) -> Result<Vec<Cookie>, String> {
    let mut cookies = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let line = line.strip_prefix("#HttpOnly_").unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [domain, subdomains, path, secure, _expiry, name, value] = fields[..] else {
            return Err(format!(
                "line {}: not a Netscape cookie line (7 tab-separated fields)",
                i + 1
            ));
        };
        let flag = |s: &str| s.eq_ignore_ascii_case("TRUE");
        cookies.push(Cookie {
            name: name.to_string(),
            value: value.to_string(),
            domain: Some(domain.trim_start_matches('.').to_ascii_lowercase()),
            subdomains: flag(subdomains) || domain.starts_with('.'),
            path: if path.is_empty() { "/" } else { path }.to_string(),
            secure: flag(secure),
        });
    }
    Ok(cookies)
}

/// Parses `name=value; name2=value2` (a `Cookie` header's value) into cookies for every host
/// that gets credentials.
pub fn parse_pairs(text: &str) -> Result<Vec<Cookie>, String> {
    let mut cookies = Vec::new();
    for (i, pair) in text.split(';').map(str::trim).enumerate() {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair
            .split_once('=')
            .filter(|(n, _)| !n.trim().is_empty())
            .ok_or_else(|| format!("cookie {} is not `name=value`", i + 1))?;
        cookies.push(Cookie {
            name: name.trim().to_string(),
            value: value.trim().to_string(),
            domain: None,
            subdomains: false,
            path: "/".into(),
            secure: false,
        });
    }
    Ok(cookies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn netscape_files_as_curl_writes_them() {
        let text = "# Netscape HTTP Cookie File\n\
                    # https://curl.se/docs/http-cookies.html\n\
                    \n\
                    .example.org\tTRUE\t/\tFALSE\t0\tsession\tabc\n\
                    #HttpOnly_api.example.org\tFALSE\t/weaver\tTRUE\t1999999999\tauth_tkt\t\"x!y\"\n";
        let cookies = parse_netscape(text).unwrap();
        assert_eq!(cookies.len(), 2);
        let (session, tkt) = (&cookies[0], &cookies[1]);
        assert_eq!(
            (session.name.as_str(), session.value.as_str()),
            ("session", "abc")
        );
        assert!(session.matches(&url("http://example.org/x")));
        assert!(session.matches(&url("http://files.example.org/wpsoutputs/a")));
        assert!(!session.matches(&url("http://badexample.org/")));
        assert_eq!(tkt.value, "\"x!y\"");
        assert!(tkt.matches(&url("https://api.example.org/weaver/jobs")));
        assert!(tkt.matches(&url("https://api.example.org/weaver")));
        assert!(
            !tkt.matches(&url("http://api.example.org/weaver/jobs")),
            "secure"
        );
        assert!(!tkt.matches(&url("https://api.example.org/weaverx")));
        assert!(!tkt.matches(&url("https://files.example.org/weaver/jobs")));
    }

    #[test]
    fn a_bad_line_is_named_not_shown() {
        let err = parse_netscape("example.org\tTRUE\t/\tsecretvalue\n").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("secretvalue"), "{err}");
    }

    #[test]
    fn pairs() {
        let cookies = parse_pairs("a=1; b = two=2 ;").unwrap();
        let got: Vec<_> = cookies
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_str()))
            .collect();
        assert_eq!(got, [("a", "1"), ("b", "two=2")]);
        assert!(cookies[0].matches(&url("http://anything:8/x")));
        let err = parse_pairs("a=1; secretvalue").unwrap_err();
        assert!(!err.contains("secretvalue"), "{err}");
    }
}
