//! The paged job listing: Weaver's zero-based `page` + `limit` + `total` (a page past the end is a
//! 400), and other servers' `rel=next` links (offset or page in their query).

use std::collections::HashSet;

use serde_json::Value;

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
    pub ids: Vec<String>,
    pub total: Option<u64>,
    /// The query string of the `rel=next` link, applied to our own `/jobs` URL.
    pub next_query: Option<String>,
}

impl Page {
    /// Parses a page served from `url`. Entries that are not ids (numbers, objects without a
    /// string id) are skipped with a warning; a relative `next` link is resolved against `url`.
    pub fn parse(body: &[u8], url: &url::Url) -> std::result::Result<Page, String> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|e| format!("job listing is not JSON: {e}"))?;
        let jobs = doc
            .get("jobs")
            .and_then(Value::as_array)
            .ok_or("job listing has no `jobs` list")?;
        let ids: Vec<String> = jobs
            .iter()
            .filter_map(|j| match j {
                Value::String(s) => Some(s.clone()),
                // `detail=true` and OGC servers list status objects.
                Value::Object(o) => o
                    .get("jobID")
                    .or_else(|| o.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            })
            .collect();
        if ids.len() < jobs.len() {
            let skipped = jobs.len() - ids.len();
            tracing::warn!("job listing: skipped {skipped} entries that are not job ids");
        }
        let total = doc.get("total").and_then(Value::as_u64);
        let next_query = doc
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
            .and_then(|l| l.get("href").and_then(Value::as_str))
            .and_then(|href| super::answer::resolve(url, href))
            .and_then(|u| u.query().map(str::to_string));
        Ok(Page {
            ids,
            total,
            next_query,
        })
    }
}

/// Lists every job, page after page. Ids repeated across pages (new jobs shift the pages of a
/// listing sorted newest first) are kept once. The server's `total` is a hint, not trusted: a
/// full page asks for the next one even when `total` says it was the last (a 400 or an empty
/// page ends the listing), and a page that brings no new id ends it (pages that repeat).
pub async fn list_all(api: &ApiClient) -> Result<Vec<String>> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut page_no = 0usize;
    let mut query = format!("limit={PAGE_LIMIT}&page=0");
    let mut queries_done = HashSet::new();
    let mut total = None;
    for _ in 0..MAX_PAGES {
        queries_done.insert(query.clone());
        let Some(page) = api.jobs_page(&query).await? else {
            break;
        };
        let got = page.ids.len();
        let before = ids.len();
        for id in page.ids {
            if ids.len() < MAX_JOBS && seen.insert(id.clone()) {
                ids.push(id);
            }
        }
        total = page.total.or(total);
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
        };
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
        assert_eq!(p.ids, vec!["a", "b"]);
        assert_eq!(p.total, Some(5));
        assert_eq!(p.next_query.as_deref(), Some("page=1&limit=2"));
    }

    #[test]
    fn ogc_page_of_status_objects() {
        let body = br#"{"jobs":[{"jobID":"x","status":"running"},{"id":"y"},{"nothing":1}],
            "links":[{"href":"https://other/jobs?offset=2","rel":"next"}]}"#;
        let p = Page::parse(body, &base()).unwrap();
        assert_eq!(p.ids, vec!["x", "y"]);
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
