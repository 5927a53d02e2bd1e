//! Conditional request headers (RFC 9110 §13), with nginx's choices where the
//! RFC leaves room: `If-Modified-Since` and `If-Range` dates match only when
//! equal to `Last-Modified` (nginx `if_modified_since exact`).

use axum::http::{header, HeaderMap};

/// The validators of the representation currently served.
#[derive(Debug, Clone)]
pub(crate) struct Validators {
    /// Strong entity tag including quotes, e.g. `"6a1f0e30-320"`.
    pub etag: String,
    /// Last-Modified, in Unix seconds.
    pub modified: i64,
}

/// Result of evaluating the preconditions of a GET/HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Precondition {
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

pub(crate) fn evaluate(headers: &HeaderMap, v: &Validators) -> Precondition {
    if let Some(list) = text(headers, header::IF_MATCH) {
        if !list_matches(list, &v.etag, true) {
            return Precondition::Failed;
        }
    }
    if let Some(list) = text(headers, header::IF_NONE_MATCH) {
        if list_matches(list, &v.etag, false) {
            return Precondition::NotModified;
        }
    } else if let Some(date) = text(headers, header::IF_MODIFIED_SINCE) {
        if date_equals(date, v.modified) {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// Whether a Range may be honoured given `If-Range` (absent = yes). An entity
/// tag must match strongly; a date must equal Last-Modified exactly.
pub(crate) fn if_range_allows(headers: &HeaderMap, v: &Validators) -> bool {
    match text(headers, header::IF_RANGE) {
        None => true,
        Some(value) => if_range_matches(value.trim(), v),
    }
}

pub(crate) fn if_range_matches(value: &str, v: &Validators) -> bool {
    if value.starts_with('"') || value.starts_with("W/") {
        strong_eq(value, &v.etag)
    } else {
        date_equals(value, v.modified)
    }
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|h| h.to_str().ok())
}

/// `*` or a comma list of entity tags. If-Match compares strongly,
/// If-None-Match weakly.
fn list_matches(list: &str, etag: &str, strong: bool) -> bool {
    list.split(',').map(str::trim).any(|tag| {
        tag == "*"
            || if strong {
                strong_eq(tag, etag)
            } else {
                tag.trim_start_matches("W/") == etag.trim_start_matches("W/")
            }
    })
}

fn strong_eq(a: &str, b: &str) -> bool {
    !a.starts_with("W/") && !b.starts_with("W/") && a == b
}

fn date_equals(value: &str, modified: i64) -> bool {
    httpdate::parse_http_date(value.trim())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|d| d.as_secs() as i64 == modified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn validators() -> Validators {
        Validators {
            etag: "\"6a1f0e30-320\"".into(),
            // Sun, 01 Nov 2026 10:00:00 GMT
            modified: 1_793_527_200,
        }
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_range_with_entity_tags() {
        let v = validators();
        assert!(if_range_matches("\"6a1f0e30-320\"", &v));
        assert!(!if_range_matches("\"6a1f0e31-320\"", &v));
        // Weak tags never satisfy If-Range.
        assert!(!if_range_matches("W/\"6a1f0e30-320\"", &v));
    }

    #[test]
    fn if_range_with_dates() {
        let v = validators();
        assert!(if_range_matches("Sun, 01 Nov 2026 10:00:00 GMT", &v));
        assert!(!if_range_matches("Sun, 01 Nov 2026 10:00:01 GMT", &v));
        assert!(!if_range_matches("Sun, 01 Nov 2026 09:59:59 GMT", &v));
        assert!(!if_range_matches("yesterday", &v));
    }

    #[test]
    fn if_range_absent_allows() {
        let v = validators();
        assert!(if_range_allows(&HeaderMap::new(), &v));
        let h = headers(&[(header::IF_RANGE, "\"old\"")]);
        assert!(!if_range_allows(&h, &v));
    }

    #[test]
    fn preconditions() {
        let v = validators();
        let eval = |pairs: &[(header::HeaderName, &str)]| evaluate(&headers(pairs), &v);
        assert_eq!(eval(&[]), Precondition::Proceed);
        assert_eq!(
            eval(&[(header::IF_NONE_MATCH, "\"x\", W/\"6a1f0e30-320\"")]),
            Precondition::NotModified
        );
        assert_eq!(
            eval(&[(header::IF_NONE_MATCH, "\"x\"")]),
            Precondition::Proceed
        );
        assert_eq!(eval(&[(header::IF_MATCH, "\"x\"")]), Precondition::Failed);
        assert_eq!(eval(&[(header::IF_MATCH, "*")]), Precondition::Proceed);
        assert_eq!(
            eval(&[(header::IF_MODIFIED_SINCE, "Sun, 01 Nov 2026 10:00:00 GMT")]),
            Precondition::NotModified
        );
        // If-None-Match takes precedence over If-Modified-Since.
        assert_eq!(
            eval(&[
                (header::IF_NONE_MATCH, "\"x\""),
                (header::IF_MODIFIED_SINCE, "Sun, 01 Nov 2026 10:00:00 GMT"),
            ]),
            Precondition::Proceed
        );
    }
}
