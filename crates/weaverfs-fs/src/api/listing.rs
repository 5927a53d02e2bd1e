//! The paged job listing: Weaver's zero-based `page` + `limit` + `total` (a page past the end is a
//! 400), and other servers' `rel=next` links (offset or page in their query). Each page asks for
//! status objects (`detail=true`; OGC servers list them anyway), so the listing gives every job's
//! process, state and times with no request per job.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::summary::Entry;
pub use super::summary::Listed;
use super::ApiClient;
use crate::error::Result;

/// Weaver's largest page.
pub const PAGE_LIMIT: usize = 1000;
/// A bound on pages followed, against a server whose `next` links never end.
const MAX_PAGES: usize = 100_000;
/// A bound on the jobs listed, so a server that invents ids forever cannot exhaust memory.
pub const MAX_JOBS: usize = 1_000_000;

/// One page of `GET /jobs`.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    pub jobs: Vec<Listed>,
    pub total: Option<u64>,
    /// The query string of the `rel=next` link, applied to our own `/jobs` URL.
    pub next_query: Option<String>,
}

impl Page {
    /// Parses a page served from `url`. Entries that are not ids (numbers, objects without a
    /// string id) are skipped with a warning; a relative `next` link is resolved against `url`.
    pub fn parse(body: &[u8], url: &url::Url) -> std::result::Result<Page, String> {
        /// The `jobs` list is read entry by entry, without building each status object.
        #[derive(Deserialize)]
        struct Doc {
            jobs: Vec<Entry>,
            #[serde(default)]
            total: Value,
            #[serde(default)]
            links: Value,
        }
        let doc: Doc = serde_json::from_slice(body).map_err(|e| {
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Err(_) => format!("job listing is not JSON: {e}"),
                Ok(_) => format!("job listing has no `jobs` list ({e})"),
            }
        })?;
        let entries = doc.jobs;
        let count = entries.len();
        let jobs: Vec<Listed> = entries.into_iter().filter_map(|e| e.0).collect();
        if jobs.len() < count {
            let skipped = count - jobs.len();
            tracing::warn!("job listing: skipped {skipped} entries that are not job ids");
        }
        let total = doc.total.as_u64();
        let next_query = doc
            .links
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("href").and_then(Value::as_str))
            .and_then(|href| super::answer::resolve(url, href))
            .and_then(|u| u.query().map(str::to_string));
        Ok(Page {
            jobs,
            total,
            next_query,
        })
    }
}

/// The shared copy of `name`.
fn intern(names: &mut HashSet<Arc<str>>, name: Arc<str>) -> Arc<str> {
    match names.get(&name) {
        Some(shared) => shared.clone(),
        None => {
            names.insert(name.clone());
            name
        }
    }
}

/// A listing query asking for status objects (a `next` link may not carry `detail`).
fn with_detail(query: String) -> String {
    if query.split('&').any(|kv| kv.starts_with("detail=")) {
        query
    } else {
        format!("{query}&detail=true")
    }
}

/// Lists every job, page after page. Ids repeated across pages (new jobs shift the pages of a
/// listing sorted newest first) are kept once. The server's `total` is a hint, not trusted: a
/// full page asks for the next one even when `total` says it was the last (a 400 or an empty
/// page ends the listing), and a page that brings no new id ends it (pages that repeat).
pub async fn list_all(api: &ApiClient) -> Result<Vec<Listed>> {
    let mut seen: HashSet<Arc<str>> = HashSet::new();
    // A few distinct processes among many jobs: one copy of each name.
    let mut processes: HashSet<Arc<str>> = HashSet::new();
    let mut ids = Vec::new();
    let mut page_no = 0usize;
    let mut query = format!("limit={PAGE_LIMIT}&page=0&detail=true");
    let mut queries_done = HashSet::new();
    let mut total = None;
    for _ in 0..MAX_PAGES {
        queries_done.insert(query.clone());
        let Some(page) = api.jobs_page(&query).await? else {
            break;
        };
        let got = page.jobs.len();
        let before = ids.len();
        total = page.total.or(total);
        if page_no == 0 {
            // Reserved, not touched: untouched pages of a large allocation cost no memory.
            ids.reserve(total.map_or(0, |t| (t as usize).min(MAX_JOBS)));
        }
        for mut job in page.jobs {
            if ids.len() < MAX_JOBS && seen.insert(job.id.clone()) {
                job.process = job.process.map(|p| intern(&mut processes, p));
                ids.push(job);
            }
        }
        page_no += 1;
        if got > 0 && ids.len() == before {
            tracing::warn!("job listing: page {query:?} holds no new job; the listing ends there");
            break;
        }
        if ids.len() >= MAX_JOBS {
            tracing::warn!("job listing: stopped at {MAX_JOBS} jobs");
            break;
        }
        let total_says_more = total.is_some_and(|t| (page_no * PAGE_LIMIT) < t as usize);
        let next = match page.next_query {
            Some(q) => Some(q),
            None if got >= PAGE_LIMIT => Some(format!("limit={PAGE_LIMIT}&page={page_no}")),
            // A server capping `limit` below ours, without links: ask by offset.
            None if total_says_more || total.is_some_and(|t| ids.len() < t as usize) => {
                Some(format!("limit={PAGE_LIMIT}&offset={}", ids.len()))
            }
            None => None,
        }
        .map(with_detail);
        match next {
            Some(q) if got > 0 && !queries_done.contains(&q) => query = q,
            _ => break,
        }
    }
    if let Some(t) = total.filter(|&t| t != ids.len() as u64) {
        tracing::warn!(
            "job listing: the server's total says {t} jobs; {} were listed",
            ids.len()
        );
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> url::Url {
        url::Url::parse("https://h/weaver/jobs?limit=1000&page=0").unwrap()
    }

    #[test]
    fn relative_next_links_are_followed() {
        let body =
            br#"{"jobs":[{"jobID":"a"}],"links":[{"href":"/jobs?limit=3&offset=3","rel":"next"}]}"#;
        let p = Page::parse(body, &base()).unwrap();
        assert_eq!(p.next_query.as_deref(), Some("limit=3&offset=3"));
        let body = br#"{"jobs":[],"links":[{"href":"jobs?offset=6","rel":"next"}]}"#;
        assert_eq!(
            Page::parse(body, &base()).unwrap().next_query.as_deref(),
            Some("offset=6")
        );
    }

    #[test]
    fn weaver_page() {
        let body = br#"{"jobs":["a","b"],"page":0,"limit":2,"count":2,"total":5,
            "links":[{"href":"https://h/weaver/jobs?page=1&limit=2","rel":"next"},
                     {"href":"https://h/weaver/jobs?page=0&limit=2","rel":"first"}]}"#;
        let p = Page::parse(body, &base()).unwrap();
        assert_eq!(p.jobs, vec![Listed::bare("a"), Listed::bare("b")]);
        assert_eq!(p.total, Some(5));
        assert_eq!(p.next_query.as_deref(), Some("page=1&limit=2"));
    }

    #[test]
    fn ogc_page_of_status_objects() {
        let body = br#"{"jobs":[{"jobID":"x","status":"running"},{"id":"y"},{"nothing":1}],
            "links":[{"href":"https://other/jobs?offset=2","rel":"next"}]}"#;
        let p = Page::parse(body, &base()).unwrap();
        let ids: Vec<&str> = p.jobs.iter().map(|j| &*j.id).collect();
        assert_eq!(ids, vec!["x", "y"]);
        assert_eq!(p.jobs[0].state, Some(crate::api::JobState::Running));
        assert_eq!(p.total, None);
        assert_eq!(p.next_query.as_deref(), Some("offset=2"));
    }

    #[test]
    fn not_a_listing() {
        assert!(Page::parse(b"[]", &base()).is_err());
        assert!(Page::parse(b"{\"jobs\": 3}", &base()).is_err());
        assert!(Page::parse(b"<html>", &base()).is_err());
    }
}
