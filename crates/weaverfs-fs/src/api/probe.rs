//! What a mount URL that does not list jobs answers like, and what to try instead: a wrong URL
//! fails the mount with a message that says what was found, not later with ENOENT.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde_json::Value;

use super::{read_document, ApiClient, JSON};
use crate::error::FsError;

/// Where to look when the URL is not the server's base.
const HINT: &str = "give the URL under which /jobs is served (e.g. https://host/weaver)";

impl ApiClient {
    /// Why the mount URL is no usable server, given the error of its job listing: one GET of
    /// the URL itself tells a web page, a `/jobs` URL, a job's URL and an unreachable host apart.
    pub async fn explain(&self, listing: &FsError) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        if matches!(listing, FsError::Unavailable(..) | FsError::TimedOut(_))
            && !listing.to_string().contains(" 5")
        {
            return format!("cannot reach {base}: {listing}");
        }
        let answer = async {
            let resp = self
                .http
                .send(
                    Method::GET,
                    self.base.clone(),
                    &[(ACCEPT, JSON)],
                    "mount URL",
                )
                .await?;
            let ctype = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            Ok::<_, FsError>((ctype, read_document(resp, "mount URL").await?))
        }
        .await;
        match answer {
            Ok((ctype, body)) => classify(base, &ctype, &body, &listing.to_string()),
            Err(_) => format!("{base}/jobs does not answer as a job listing ({listing}); {HINT}"),
        }
    }
}

/// The message for a URL whose own answer was `body` (of type `ctype`).
pub fn classify(base: &str, ctype: &str, body: &[u8], listing: &str) -> String {
    let doc: Option<Value> = serde_json::from_slice(body).ok();
    let obj = doc.as_ref().and_then(Value::as_object);
    let before = |marker: &str| base.rfind(marker).map(|i| &base[..i]);
    if let Some(o) = obj {
        if o.get("jobs").is_some_and(Value::is_array) {
            if let Some(parent) = before("/jobs") {
                return format!(
                    "{base} answers like an OGC API – Processes server's /jobs; did you mean \
                     {parent} ?"
                );
            }
        }
        if o.contains_key("jobID") && o.contains_key("status") {
            if let Some(parent) = before("/jobs/") {
                return format!(
                    "{base} answers like one job's status; did you mean {parent} ? (to fetch \
                     one job: weaverfs get {base})"
                );
            }
        }
    }
    if ctype.starts_with("text/html") || body.trim_ascii_start().starts_with(b"<") {
        return format!(
            "{base} is a web page, not an OGC API – Processes server ({base}/jobs: {listing}); \
             {HINT}"
        );
    }
    format!("{base} does not answer like an OGC API – Processes server ({base}/jobs: {listing}); {HINT}")
}

#[cfg(test)]
mod tests {
    use super::classify;

    #[test]
    fn a_jobs_url_points_to_its_base() {
        let m = classify(
            "https://h/weaver/jobs",
            "application/json",
            br#"{"jobs": []}"#,
            "x",
        );
        assert!(m.contains("did you mean https://h/weaver ?"), "{m}");
    }

    #[test]
    fn a_job_url_points_to_its_base_and_to_get() {
        let m = classify(
            "https://h/weaver/jobs/abc",
            "application/json",
            br#"{"jobID": "abc", "status": "running"}"#,
            "x",
        );
        assert!(m.contains("did you mean https://h/weaver ?"), "{m}");
        assert!(m.contains("weaverfs get https://h/weaver/jobs/abc"), "{m}");
    }

    #[test]
    fn a_web_page_says_so() {
        let m = classify(
            "https://h",
            "text/html",
            b"<html>hi</html>",
            "not found: 404",
        );
        assert!(m.contains("is a web page"), "{m}");
        assert!(m.contains("e.g. https://host/weaver"), "{m}");
    }

    #[test]
    fn other_answers_name_the_listing_error() {
        let m = classify("https://h", "application/json", b"{}", "not found: 404");
        assert!(
            m.contains("does not answer like") && m.contains("404"),
            "{m}"
        );
    }
}
