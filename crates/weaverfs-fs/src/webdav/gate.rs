//! What the gateway decides before and after dav-server: sign-in, the read-only answer to
//! writes, Depth and Range limits, and an error's real status with its one-line reason
//! (dav-server alone would answer a bare 500, or a listing with the failed part left out).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode};
use dav_server::davpath::DavPath;
use dav_server::{DavConfig, DavHandler, DavMethodSet};

use super::auth::Users;
use super::davfs::{DavFs, FirstByte};
use super::errors::{status_of, Why};
use super::paths::walk;
use crate::error::FsError;
use crate::fs::WeaverFs;

/// The methods of a read-only server, as `Allow` lists them.
pub const ALLOW: &str = "OPTIONS, GET, HEAD, PROPFIND";
/// Ranges in one request at most: more is a client's mistake or an amplification attempt.
pub const MAX_RANGES: usize = 16;
/// Bytes read from the core per step of a response body (as the mount's largest read).
const READ_SIZE: usize = 1 << 20;

pub struct Gateway {
    fs: Arc<WeaverFs>,
    dav: DavHandler,
    users: Option<Users>,
}

impl Gateway {
    pub fn new(fs: Arc<WeaverFs>, users: Option<Users>) -> Self {
        let dav = DavHandler::builder()
            .methods(DavMethodSet::WEBDAV_RO)
            .autoindex(true)
            .read_buf_size(READ_SIZE)
            .build_handler();
        Gateway { fs, dav, users }
    }

    pub async fn handle(&self, req: Request<Body>) -> Response<Body> {
        if let Some(users) = &self.users {
            if !users.admit(req.headers()).await {
                let mut res = plain(StatusCode::UNAUTHORIZED, "sign in (HTTP Basic)");
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"weaverfs\", charset=\"UTF-8\""),
                );
                return res;
            }
        }
        let method = req.method().clone();
        match method.as_str() {
            "OPTIONS" | "GET" | "HEAD" | "PROPFIND" => {}
            "PUT" | "POST" | "PATCH" | "DELETE" | "MKCOL" | "COPY" | "MOVE" | "PROPPATCH"
            | "LOCK" | "UNLOCK" => {
                let mut res = plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("read-only: {method} changes nothing here"),
                );
                res.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
                return res;
            }
            _ => return plain(StatusCode::NOT_IMPLEMENTED, &format!("no method {method}")),
        }
        let why = Why::default();
        let mut davfs = DavFs::new(self.fs.clone(), why.clone());
        if method == Method::GET {
            let range = req.headers().get(header::RANGE);
            let first = FirstByte::of_range(range.and_then(|r| r.to_str().ok()));
            davfs = davfs.with_first_byte(first);
        }
        let mut req = req;
        let refused = match method {
            Method::GET | Method::HEAD => too_many_ranges(&req),
            _ if method.as_str() == "PROPFIND" => self.check_depth(&davfs, &mut req).await,
            _ => None,
        };
        if let Some(res) = refused {
            return res;
        }
        let config = DavConfig::new().filesystem(Box::new(davfs));
        let (mut parts, body) = self.dav.handle_with(config, req).await.into_parts();
        if method == Method::OPTIONS {
            // Class 1 only: no locks (a read-only tree needs none; Finder then mounts it
            // read-only, as it is).
            parts.headers.insert("dav", HeaderValue::from_static("1"));
        }
        if parts.status.is_client_error() || parts.status.is_server_error() {
            if let Some(e) = why.take() {
                return failure(&e);
            }
            if parts.status == StatusCode::BAD_REQUEST && method.as_str() == "PROPFIND" {
                let why = "the PROPFIND body is not a DAV: propfind XML document";
                return plain(StatusCode::BAD_REQUEST, why);
            }
        }
        Response::from_parts(parts, Body::new(body))
    }

    /// Depth 0 and 1 are served; infinity (and a missing Depth, which means it) is refused
    /// on a collection as RFC 4918 allows, and is Depth 0 on a file. A listing that fails
    /// is an error before the multistatus starts, never a listing with entries left out.
    async fn check_depth(&self, davfs: &DavFs, req: &mut Request<Body>) -> Option<Response<Body>> {
        let depth = match req.headers().get("depth").map(|v| v.to_str()) {
            None => "infinity".to_owned(),
            Some(Ok(v)) => v.trim().to_ascii_lowercase(),
            Some(Err(_)) => return Some(plain(StatusCode::BAD_REQUEST, "unreadable Depth")),
        };
        if !matches!(depth.as_str(), "0" | "1" | "infinity") {
            let shown: String = depth.chars().take(20).collect();
            let why = format!("Depth must be 0, 1 or infinity, not {shown:?}");
            return Some(plain(StatusCode::BAD_REQUEST, &why));
        }
        if depth == "0" {
            return None;
        }
        let Some(path) = request_path(req) else {
            return Some(plain(StatusCode::BAD_REQUEST, "bad request path"));
        };
        let attr = match walk(&self.fs, &path).await {
            Ok(w) => w.attr,
            Err(e) => return Some(failure(&e)),
        };
        match (attr.is_dir, depth.as_str()) {
            (false, _) => {
                req.headers_mut()
                    .insert("depth", HeaderValue::from_static("0"));
                None
            }
            (true, "1") => davfs.list(&path).await.err().map(|e| failure(&e)),
            (true, _) => {
                let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
                    <D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n";
                let mut res = Response::new(Body::from(body));
                *res.status_mut() = StatusCode::FORBIDDEN;
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/xml; charset=utf-8"),
                );
                Some(res)
            }
        }
    }
}

/// The percent-decoded path of a request (names in the tree are UTF-8).
fn request_path(req: &Request<Body>) -> Option<String> {
    let path = DavPath::new(req.uri().path()).ok()?;
    String::from_utf8(path.as_bytes().to_vec()).ok()
}

fn too_many_ranges(req: &Request<Body>) -> Option<Response<Body>> {
    let range = req.headers().get(header::RANGE)?.as_bytes();
    let asked = range.iter().filter(|&&b| b == b',').count() + 1;
    (asked > MAX_RANGES).then(|| {
        let why = format!("at most {MAX_RANGES} ranges in one request ({asked} asked)");
        plain(StatusCode::RANGE_NOT_SATISFIABLE, &why)
    })
}

/// The answer to a request the core failed: its status and one line saying why.
pub fn failure(e: &FsError) -> Response<Body> {
    plain(status_of(e), &e.to_string())
}

/// An answer with one line of text.
fn plain(status: StatusCode, why: &str) -> Response<Body> {
    let line: String = why.chars().filter(|c| !c.is_control()).collect();
    let mut res = Response::new(Body::from(format!("weaverfs: {line}\n")));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}
