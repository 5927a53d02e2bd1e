//! The `/wpsoutputs` file host, imitating nginx static serving: HEAD, single
//! byte ranges, strong `"<mtime-hex>-<size-hex>"` ETags, conditional
//! requests, 301 for a directory without its slash, 403 for directories
//! without an index, and an autoindex page for listable directory outputs.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::clock;
use super::conditional::{self, Precondition, Validators};
use super::content::Source;
use super::jobs::FileDef;
use super::range::{self, RangeOutcome};
use super::state::Shared;

/// URL prefix of the file host.
pub(crate) const PREFIX: &str = "/wpsoutputs";

/// Streamed bodies are produced in pieces of this size so a 256 MiB file
/// never sits in memory.
const CHUNK: u64 = 256 * 1024;

/// A file as currently published, with its validators.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub source: Source,
    pub version: u32,
    /// Unix seconds; moves forward on each version bump.
    pub modified: i64,
    pub content_type: &'static str,
}

impl Published {
    pub(crate) fn size(&self) -> u64 {
        self.source.len()
    }

    pub(crate) fn validators(&self) -> Validators {
        Validators {
            etag: format!("\"{:x}-{:x}\"", self.modified, self.size()),
            modified: self.modified,
        }
    }

    pub(crate) fn read(&self, start: u64, end: u64) -> Vec<u8> {
        self.source.read(self.version, start, end)
    }
}

/// One line of an autoindex page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirEntry {
    /// File name, or sub-directory name ending in `/`.
    pub name: String,
    pub size: Option<u64>,
    pub modified: i64,
}

/// What a path under `/wpsoutputs` names right now.
#[derive(Debug)]
pub(crate) enum Resolved {
    File(Published),
    /// Autoindex page of a listable directory.
    Listing(Vec<DirEntry>),
    /// Directory requested without its trailing slash.
    Redirect,
    /// Existing directory without an index page.
    Forbidden,
    NotFound,
}

/// Accepts `/wpsoutputs/...` or a full URL whose path is that.
pub(crate) fn url_path(s: &str) -> &str {
    let path = match s.find("://") {
        Some(i) => s[i + 3..].find('/').map_or("/", |j| &s[i + 3 + j..]),
        None => s,
    };
    path.split(['?', '#']).next().unwrap_or(path)
}

/// `{job}/{path}` for a URL path under the prefix, the key of file versions.
pub(crate) fn file_key(path: &str) -> Option<&str> {
    url_path(path)
        .strip_prefix(PREFIX)?
        .strip_prefix('/')
        .filter(|k| !k.is_empty())
}

/// Resolves a URL path. Files exist only while their job is successful:
/// before, they are not produced yet; after dismissal, Weaver deletes them.
pub(crate) fn resolve(shared: &Shared, path: &str) -> Resolved {
    let Some(key) = file_key(path) else {
        return Resolved::Forbidden; // the root of the host
    };
    let (job_id, rel) = key.split_once('/').unwrap_or((key, ""));
    let Some(view) = shared.job(job_id).filter(|v| v.status.is_success()) else {
        return Resolved::NotFound;
    };
    let def = &view.def;
    let job_mtime = clock::secs(view.finished.unwrap_or(view.updated));
    let publish = |f: &FileDef| {
        let version = shared.file_version(&format!("{job_id}/{}", f.path));
        Published {
            source: f.source,
            version,
            // Each replacement is written a minute after the previous one.
            modified: job_mtime + 60 * i64::from(version),
            content_type: content_type(f.path),
        }
    };
    if let Some(f) = def.file(rel) {
        return Resolved::File(publish(f));
    }

    // Otherwise a directory: the job's own, or one that some file lives under.
    let prefix = match rel.trim_end_matches('/') {
        "" => String::new(),
        dir => format!("{dir}/"),
    };
    let children: Vec<(&str, &FileDef)> = def
        .files
        .iter()
        .filter_map(|f| Some((f.path.strip_prefix(prefix.as_str())?, f)))
        .collect();
    if children.is_empty() && !prefix.is_empty() {
        return Resolved::NotFound;
    }
    if !key.ends_with('/') {
        return Resolved::Redirect;
    }
    if !def.listable_dirs.contains(&prefix.as_str()) {
        return Resolved::Forbidden;
    }
    let mut entries: Vec<DirEntry> = Vec::new();
    for (rest, f) in children {
        let p = publish(f);
        let entry = match rest.split_once('/') {
            Some((sub, _)) => DirEntry {
                name: format!("{sub}/"),
                size: None,
                modified: p.modified,
            },
            None => DirEntry {
                name: rest.to_owned(),
                size: Some(p.size()),
                modified: p.modified,
            },
        };
        if !entries.iter().any(|e| e.name == entry.name) {
            entries.push(entry);
        }
    }
    // nginx lists directories first, then by name.
    entries.sort_by(|a, b| (a.size.is_some(), &a.name).cmp(&(b.size.is_some(), &b.name)));
    Resolved::Listing(entries)
}

/// nginx `mime.types` for the extensions we publish; `.nc` is not in it.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("txt") => "text/plain",
        Some("json") => "application/json",
        Some("html" | "htm") => "text/html",
        Some("xml") => "text/xml",
        _ => "application/octet-stream",
    }
}

/// Where [`moved`] answers: a redirecting front for the file host.
pub(crate) const MOVED_PREFIX: &str = "/moved";

/// GET and HEAD under `/moved/PATH`: a 302 to the configured target plus `PATH`.
pub(crate) async fn moved(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let rest = uri.path().strip_prefix(MOVED_PREFIX).unwrap_or("");
    match shared.redirect_target() {
        Some(target) => match HeaderValue::from_str(&format!("{target}{rest}")) {
            Ok(location) => {
                let mut resp = html_response(StatusCode::FOUND, error_page("302 Found"));
                resp.headers_mut().insert(header::LOCATION, location);
                resp
            }
            Err(_) => html_response(StatusCode::NOT_FOUND, error_page("404 Not Found")),
        },
        None => html_response(StatusCode::NOT_FOUND, error_page("404 Not Found")),
    }
}

/// GET and HEAD handler for everything under `/wpsoutputs`.
pub(crate) async fn serve(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let head = method == Method::HEAD;
    if head && !shared.head_allowed() {
        // Some hosts (presigned object stores, some proxies) refuse HEAD.
        return html_response(
            StatusCode::METHOD_NOT_ALLOWED,
            error_page("405 Not Allowed"),
        );
    }
    let path = uri.path();
    match resolve(&shared, path) {
        Resolved::File(file) => serve_file(&file, &headers, head, shared.ignore_range()),
        Resolved::Listing(entries) => {
            let html = autoindex(path, &entries);
            let len = html.len();
            let mut resp = html_response(StatusCode::OK, if head { String::new() } else { html });
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, len.into());
            resp
        }
        Resolved::Redirect => {
            let mut resp = html_response(
                StatusCode::MOVED_PERMANENTLY,
                error_page("301 Moved Permanently"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("{path}/")) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Resolved::Forbidden => html_response(StatusCode::FORBIDDEN, error_page("403 Forbidden")),
        Resolved::NotFound => html_response(StatusCode::NOT_FOUND, error_page("404 Not Found")),
    }
}

fn serve_file(file: &Published, headers: &HeaderMap, head: bool, ignore_range: bool) -> Response {
    let v = file.validators();
    let size = file.size();
    let last_modified = httpdate::fmt_http_date(clock::system_time(v.modified));
    let mut builder = Response::builder()
        .header(header::ETAG, &v.etag)
        .header(header::LAST_MODIFIED, &last_modified);

    match conditional::evaluate(headers, &v) {
        Precondition::NotModified => {
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Body::empty())
                .expect("valid response");
        }
        Precondition::Failed => {
            return html_response(
                StatusCode::PRECONDITION_FAILED,
                error_page("412 Precondition Failed"),
            );
        }
        Precondition::Proceed => {}
    }

    let range_header = headers
        .get(header::RANGE)
        .and_then(|h| h.to_str().ok())
        .filter(|_| !ignore_range && conditional::if_range_allows(headers, &v));
    let outcome = range_header.map_or(RangeOutcome::Full, |r| range::evaluate(r, size));

    let (status, start, end) = match outcome {
        RangeOutcome::Full => {
            // Like nginx, advertise ranges on 200 answers only (and never when ignoring them).
            if !ignore_range {
                builder = builder.header(header::ACCEPT_RANGES, "bytes");
            }
            (StatusCode::OK, 0, size)
        }
        RangeOutcome::Partial { start, end } => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start, end + 1)
        }
        RangeOutcome::Unsatisfiable => {
            let mut resp = html_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                error_page("416 Requested Range Not Satisfiable"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return resp;
        }
    };
    let body = if head {
        Body::empty()
    } else {
        stream(file.clone(), start, end)
    };
    builder
        .status(status)
        .header(header::CONTENT_TYPE, file.content_type)
        .header(header::CONTENT_LENGTH, end - start)
        .body(body)
        .expect("valid response")
}

/// Body of bytes `[start, end)`, generated chunk by chunk as the client reads.
fn stream(file: Published, start: u64, end: u64) -> Body {
    if end - start <= CHUNK {
        return Body::from(file.read(start, end));
    }
    let chunks = futures::stream::unfold(start, move |pos| {
        let file = file.clone();
        async move {
            if pos >= end {
                return None;
            }
            let next = (pos + CHUNK).min(end);
            let bytes = Bytes::from(file.read(pos, next));
            Some((Ok::<_, Infallible>(bytes), next))
        }
    });
    Body::from_stream(chunks)
}

pub(crate) fn method_not_allowed() -> Response {
    html_response(
        StatusCode::METHOD_NOT_ALLOWED,
        error_page("405 Not Allowed"),
    )
}

fn html_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html")], body).into_response()
}

fn error_page(title: &str) -> String {
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
         <center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// nginx `autoindex on` page (`ngx_http_autoindex_html`): names padded to
/// 50 columns, `dd-Mon-yyyy hh:mm` dates, sizes right-aligned in 19.
pub(crate) fn autoindex(path: &str, entries: &[DirEntry]) -> String {
    let mut html = format!(
        "<html>\r\n<head><title>Index of {path}</title></head>\r\n<body>\r\n\
         <h1>Index of {path}</h1><hr><pre><a href=\"../\">../</a>\r\n"
    );
    for e in entries {
        let name = &e.name;
        let pad = " ".repeat(50usize.saturating_sub(name.len()));
        let http = httpdate::fmt_http_date(clock::system_time(e.modified));
        // "Sun, 01 Nov 2026 11:02:30 GMT" -> "01-Nov-2026 11:02"
        let date = format!(
            "{}-{}-{} {}",
            &http[5..7],
            &http[8..11],
            &http[12..16],
            &http[17..22]
        );
        let size = e.size.map_or_else(|| "-".to_owned(), |s| s.to_string());
        html.push_str(&format!(
            "<a href=\"{name}\">{name}</a>{pad} {date} {size:>19}\r\n"
        ));
    }
    html.push_str("</pre><hr></body>\r\n</html>\r\n");
    html
}

#[cfg(test)]
mod tests {
    use super::super::jobs::{self, Catalog, Status};
    use super::*;
    use std::time::Duration;

    fn shared() -> Shared {
        Shared::new(Catalog::new(5000, 0), Duration::ZERO, false)
    }

    fn path(job: &str, rel: &str) -> String {
        format!("{PREFIX}/{job}/{rel}")
    }

    #[test]
    fn url_paths_and_keys() {
        assert_eq!(url_path("http://h:1/wpsoutputs/a/b?x=1"), "/wpsoutputs/a/b");
        assert_eq!(url_path("/wpsoutputs/a"), "/wpsoutputs/a");
        assert_eq!(file_key("/wpsoutputs/j/x.txt"), Some("j/x.txt"));
        assert_eq!(file_key("/wpsoutputs/"), None);
        assert_eq!(file_key("/other/j"), None);
    }

    #[test]
    fn resolves_files_and_directories() {
        let s = shared();
        let f = jobs::FILES;
        match resolve(&s, &path(f, "output_big/big.dat")) {
            Resolved::File(p) => {
                assert_eq!(p.size(), 5000);
                assert_eq!(p.content_type, "application/octet-stream");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(resolve(&s, &path(f, "output_dir/")), Resolved::Listing(e) if e.len() == 2)
        );
        assert!(matches!(
            resolve(&s, &path(f, "output_dir")),
            Resolved::Redirect
        ));
        assert!(matches!(
            resolve(&s, &path(f, "files/")),
            Resolved::Forbidden
        ));
        assert!(matches!(resolve(&s, &path(f, "")), Resolved::Forbidden));
        assert!(matches!(
            resolve(&s, &format!("{PREFIX}/{f}")),
            Resolved::Redirect
        ));
        assert!(matches!(
            resolve(&s, &path(f, "nope.txt")),
            Resolved::NotFound
        ));
        assert!(matches!(
            resolve(&s, &path(f, "output_dir/z.txt")),
            Resolved::NotFound
        ));
        assert!(matches!(resolve(&s, "/wpsoutputs/"), Resolved::Forbidden));
    }

    #[test]
    fn files_follow_the_job_status() {
        let s = shared();
        let report = path(jobs::RUNNING, "report/report.txt");
        assert!(matches!(resolve(&s, &report), Resolved::NotFound));
        s.set_status(jobs::RUNNING, Status::Successful);
        assert!(matches!(resolve(&s, &report), Resolved::File(_)));
        // Dismissal deletes the outputs.
        let text = path(jobs::FILES, "output_text/result.txt");
        s.set_status(jobs::FILES, Status::Dismissed);
        assert!(matches!(resolve(&s, &text), Resolved::NotFound));
    }

    #[test]
    fn bump_changes_validators_and_bytes_not_size() {
        let s = shared();
        let p = path(jobs::FILES, "output_text/result.txt");
        let Resolved::File(before) = resolve(&s, &p) else {
            panic!()
        };
        s.bump_file_version(file_key(&p).unwrap());
        let Resolved::File(after) = resolve(&s, &p) else {
            panic!()
        };
        assert_eq!(before.size(), after.size());
        assert_ne!(before.validators().etag, after.validators().etag);
        assert!(after.modified > before.modified);
        assert_ne!(before.read(0, 100), after.read(0, 100));
    }

    #[test]
    fn etag_is_nginx_form() {
        let s = shared();
        let Resolved::File(p) = resolve(&s, &path(jobs::FILES, "output_netcdf/sample.nc")) else {
            panic!()
        };
        let finished = clock::utc(2026, 11, 1, 11, 2, 30, 0) / 1_000_000;
        assert_eq!(p.validators().etag, format!("\"{finished:x}-334\""));
    }

    #[test]
    fn autoindex_page_like_nginx() {
        let t = clock::utc(2026, 11, 1, 11, 2, 30, 0) / 1_000_000;
        let html = autoindex(
            "/wpsoutputs/j/output_dir/",
            &[
                DirEntry {
                    name: "sub/".into(),
                    size: None,
                    modified: t,
                },
                DirEntry {
                    name: "x.txt".into(),
                    size: Some(17),
                    modified: t,
                },
            ],
        );
        assert!(html.contains(
            "<h1>Index of /wpsoutputs/j/output_dir/</h1><hr><pre><a href=\"../\">../</a>\r\n"
        ));
        let line = format!(
            "<a href=\"x.txt\">x.txt</a>{} 01-Nov-2026 11:02 {:>19}\r\n",
            " ".repeat(45),
            17
        );
        assert!(html.contains(&line), "{html}");
        assert!(html.contains(&format!(
            "<a href=\"sub/\">sub/</a>{} 01-Nov-2026 11:02 {:>19}\r\n",
            " ".repeat(46),
            "-"
        )));
        let first = html.find("../").unwrap();
        assert!(first < html.find("sub/").unwrap());
    }
}
