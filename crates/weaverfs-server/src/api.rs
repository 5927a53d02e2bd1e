//! Handlers of the imitated Weaver job API under `/weaver`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clock;
use super::digests;
use super::errors::ApiError;
use super::hostile::{self, ListingMode};
use super::jobs::{canonical_uuid, Output, ResponseMode, Status};
use super::render::{self, Urls};
use super::state::{JobView, Shared};

type Params = Query<HashMap<String, String>>;
type ApiResult = Result<Response, ApiError>;

const RESULTS_PROFILE: &str = "https://www.opengis.net/def/profile/OGC/0/ogc-results";
const JOB_PROFILE: &str = "https://www.opengis.net/def/profile/OGC/0/job-description";

/// Routes of the job API. Job routes also exist under
/// `/weaver/processes/{pid}/jobs/...`, the form Weaver's own links use.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new()
        .route("/weaver", get(landing))
        .route("/weaver/", get(landing))
        .route("/weaver/jobs", get(list_jobs));
    for base in ["/weaver/jobs/{id}", "/weaver/processes/{pid}/jobs/{id}"] {
        router = router
            .route(base, get(job_status))
            .route(&format!("{base}/results"), get(job_results))
            .route(&format!("{base}/outputs"), get(job_outputs))
            .route(&format!("{base}/inputs"), get(job_inputs))
            .route(&format!("{base}/logs"), get(job_logs))
            .route(&format!("{base}/exceptions"), get(job_exceptions))
            .route(&format!("{base}/statistics"), get(job_statistics))
            .route(&format!("{base}/prov"), get(job_prov));
    }
    router
}

/// 404 for anything else under `/weaver`.
pub(crate) fn not_found(path: &str) -> Response {
    ApiError::not_found(path).into_response()
}

pub(crate) fn method_not_allowed(path: &str) -> Response {
    ApiError::method_not_allowed(path).into_response()
}

#[derive(Debug, Deserialize)]
struct JobPath {
    id: String,
    #[serde(default)]
    pid: Option<String>,
}

/// `http://host:port` as the client addressed us; Weaver would use its
/// configured public URL, which for this server is the same thing.
fn urls(shared: &Shared, headers: &HeaderMap, uri: &Uri) -> Urls {
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "127.0.0.1".into());
    let mut urls = Urls::for_origin(&format!("http://{host}"));
    if let Some(files) = shared.files_url() {
        urls.files = files;
    }
    urls
}

fn find_job(shared: &Shared, path: &JobPath) -> Result<JobView, ApiError> {
    let id = canonical_uuid(&path.id).ok_or_else(|| ApiError::invalid_job_ref(&path.id))?;
    let view = shared.job(&id).ok_or_else(|| ApiError::no_such_job(&id))?;
    match &path.pid {
        Some(pid) if pid != view.def.process => Err(ApiError::no_such_process(pid)),
        _ => Ok(view),
    }
}

/// Status gate shared by results and outputs (dossier §5.6).
fn require_success(view: &JobView, urls: &Urls) -> Result<(), ApiError> {
    match view.status {
        s if s.is_success() => Ok(()),
        Status::Failed => Err(ApiError::results_failed(view, urls)),
        Status::Dismissed => Err(ApiError::dismissed(view, urls)),
        _ => Err(ApiError::not_ready(view, urls)),
    }
}

fn require_not_dismissed(view: &JobView, urls: &Urls) -> Result<(), ApiError> {
    if view.status == Status::Dismissed {
        return Err(ApiError::dismissed(view, urls));
    }
    Ok(())
}

fn json_response(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

fn append_links(resp: &mut Response, links: impl IntoIterator<Item = String>) {
    for l in links {
        if let Ok(v) = HeaderValue::from_str(&l) {
            resp.headers_mut().append(header::LINK, v);
        }
    }
}

async fn landing(State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    let urls = urls(&shared, &headers, &uri);
    let body = json!({
        "title": "Weaver",
        "description": "Imitation of a Weaver job API, for weaverfs.",
        "configuration": "HYBRID",
        "links": [
            {"href": urls.api, "rel": "self", "type": "application/json"},
            {"href": format!("{}/jobs", urls.api), "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list", "type": "application/json"},
        ],
    });
    json_response(StatusCode::OK, "application/json", &body)
}

/// Parses a listing parameter the way Python's `int()` would (no sign games).
fn int_param(q: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            ApiError::invalid_listing(
                format!("Invalid value for parameter '{name}'."),
                "Invalid parameter value.",
                json!({name: v}),
            )
        }),
    }
}

/// Paging arithmetic of `GET /jobs`: the slice and the last page index.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub start: usize,
    pub end: usize,
    pub last: u64,
}

/// `None` when `page` is past the end; page 0 of nothing is valid.
pub(crate) fn paginate(total: usize, page: u64, limit: u64) -> Option<Page> {
    let last = (total as u64).div_ceil(limit).saturating_sub(1);
    if page > last {
        return None;
    }
    let start = (page.saturating_mul(limit)).min(total as u64) as usize;
    let end = (start as u64 + limit).min(total as u64) as usize;
    Some(Page { start, end, last })
}

async fn list_jobs(
    State(shared): State<Arc<Shared>>,
    Query(q): Params,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let page = int_param(&q, "page", 0)?;
    let limit = int_param(&q, "limit", 10)?;
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_listing(
            format!("Limit {limit} is out of range [1, 1000]."),
            "Invalid parameter value.",
            json!({"limit": limit}),
        ));
    }
    let ids = shared.catalog.listed_ids();
    let mode = shared.listing_mode();
    if mode != ListingMode::Honest {
        let jobs = format!("{}/jobs", urls(&shared, &headers, &uri).api);
        let body = hostile::listing_page(mode, ids, page, limit, &jobs).ok_or_else(|| {
            ApiError::invalid_listing(
                format!("Page index {page} is out of range."),
                "Invalid paging parameters.",
                json!({"page": page, "limit": limit}),
            )
        })?;
        return Ok(json_response(StatusCode::OK, "application/json", &body));
    }
    let total = ids.len();
    let Some(p) = paginate(total, page, limit) else {
        let last = (total as u64).div_ceil(limit).saturating_sub(1);
        return Err(ApiError::invalid_listing(
            format!("Page index {page} is out of range from [0,{last}]."),
            "Invalid paging parameters.",
            json!({"page": page, "limit": limit, "count": total}),
        ));
    };
    let urls = urls(&shared, &headers, &uri);
    // `detail=true` lists status objects (with their links, as Weaver does), else ids.
    let detail = q.get("detail").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        )
    });
    let page_ids = &ids[p.start..p.end];
    let listed: Value = if detail {
        let now = clock::now();
        page_ids
            .iter()
            .filter_map(|id| shared.job(id))
            .map(|view| render::status_document(&view, &urls, now))
            .collect()
    } else {
        json!(page_ids)
    };
    let jobs = format!("{}/jobs", urls.api);
    let at = |n: u64| format!("{jobs}?page={n}&limit={limit}");
    let mut links = vec![
        json!({"href": jobs, "rel": "collection", "type": "application/json", "title": "Job listing."}),
        json!({"href": jobs, "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list", "type": "application/json"}),
        json!({"href": at(page), "rel": "current", "type": "application/json"}),
        json!({"href": at(0), "rel": "first", "type": "application/json"}),
        json!({"href": at(p.last), "rel": "last", "type": "application/json"}),
    ];
    if page < p.last {
        links.push(json!({"href": at(page + 1), "rel": "next", "type": "application/json"}));
    }
    if page > 0 {
        links.push(json!({"href": at(page - 1), "rel": "prev", "type": "application/json"}));
    }
    let body = json!({
        "jobs": listed,
        "page": page,
        "limit": limit,
        "count": p.end - p.start,
        "total": total,
        "links": links,
    });
    let mut resp = json_response(StatusCode::OK, "application/json", &body);
    append_links(&mut resp, links.iter().map(render::link_header));
    Ok(resp)
}

async fn job_status(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<JobPath>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let view = find_job(&shared, &path)?;
    let urls = urls(&shared, &headers, &uri);
    let body = render::status_document(&view, &urls, clock::now());
    let mut resp = json_response(StatusCode::OK, "application/json; profile=ogc", &body);
    let h = resp.headers_mut();
    h.insert(
        "content-schema",
        HeaderValue::from_static(
            "https://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/schemas/statusInfo.yaml",
        ),
    );
    h.insert("content-profile", HeaderValue::from_static(JOB_PROFILE));
    append_links(&mut resp, [format!("<{JOB_PROFILE}>; rel=\"profile\"")]);
    Ok(resp)
}

/// Whether the request asks for the OGC results document (`Accept-Profile`,
/// `?profile=`, or an Accept `profile=` parameter), http or https alike.
fn wants_results_profile(headers: &HeaderMap, q: &HashMap<String, String>) -> bool {
    let without_scheme = |v: &str| {
        let v = v.trim().trim_matches(|c| c == '<' || c == '>' || c == '"');
        v.strip_prefix("https://")
            .or_else(|| v.strip_prefix("http://"))
            .unwrap_or(v)
            .to_owned()
    };
    let wanted = without_scheme(RESULTS_PROFILE);
    let is_profile = |v: &str| without_scheme(v) == wanted;
    let header_values = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(','))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let accept_profile = header_values("accept-profile")
        .iter()
        .any(|v| is_profile(v));
    let accept_param = header_values("accept").iter().any(|v| {
        v.split(';')
            .filter_map(|p| p.trim().strip_prefix("profile="))
            .any(is_profile)
    });
    let query = q.get("profile").is_some_and(|v| is_profile(v));
    accept_profile || accept_param || query
}

async fn job_results(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<JobPath>,
    Query(q): Params,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let view = find_job(&shared, &path)?;
    let urls = urls(&shared, &headers, &uri);
    require_success(&view, &urls)?;
    let location = format!("{}/results", urls.job(&view));
    let all_refs = view.def.outputs.iter().all(|(_, o)| is_reference(o));

    let mut resp = if view.def.legacy {
        // Old servers answered multipart whatever the request said.
        multipart(&view, &urls)
    } else if wants_results_profile(&headers, &q) || view.def.response == ResponseMode::Document {
        let mut body = render::results_document(&view, &urls);
        digests::add(&shared, &view, &urls, &mut body);
        let mut resp = json_response(StatusCode::OK, "application/json", &body);
        resp.headers_mut()
            .insert("content-profile", HeaderValue::from_static(RESULTS_PROFILE));
        let links = render::job_links(&view, &urls, "/results");
        append_links(
            &mut resp,
            std::iter::once(format!("<{RESULTS_PROFILE}>; rel=\"profile\""))
                .chain(links.iter().map(render::link_header)),
        );
        resp
    } else if all_refs {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        append_links(&mut resp, render::raw_link_headers(&view, &urls));
        resp
    } else {
        multipart(&view, &urls)
    };
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::CONTENT_LOCATION, v);
    }
    Ok(resp)
}

fn is_reference(out: &Output) -> bool {
    match out {
        Output::Href { .. } => true,
        Output::Array(items) => items.iter().all(is_reference),
        _ => false,
    }
}

fn multipart(view: &JobView, urls: &Urls) -> Response {
    let ct = format!("multipart/mixed; boundary={}", render::BOUNDARY);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, ct)],
        render::multipart_results(view, urls),
    )
        .into_response()
}

async fn job_outputs(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<JobPath>,
    Query(q): Params,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let view = find_job(&shared, &path)?;
    let urls = urls(&shared, &headers, &uri);
    // Old servers predate `schema` and always answer the list form.
    let (old_form, strict) = if view.def.legacy {
        (true, true)
    } else {
        parse_schema(q.get("schema").map(String::as_str))?
    };
    require_success(&view, &urls)?;
    let mut body = if old_form {
        render::outputs_old(&view, &urls, strict)
    } else {
        render::outputs_ogc(&view, &urls, strict)
    };
    digests::add(&shared, &view, &urls, &mut body);
    Ok(json_response(StatusCode::OK, "application/json", &body))
}

/// `?schema=` of `/outputs`: (list form?, strict?). Case-insensitive; a
/// literal '+' arrives as a space when the client did not encode it.
fn parse_schema(schema: Option<&str>) -> Result<(bool, bool), ApiError> {
    let Some(raw) = schema else {
        return Ok((false, false));
    };
    match raw.trim().to_ascii_uppercase().replace(' ', "+").as_str() {
        "OGC" => Ok((false, false)),
        "OGC+STRICT" => Ok((false, true)),
        "OLD" => Ok((true, false)),
        "OLD+STRICT" => Ok((true, true)),
        _ => Err(ApiError::invalid_query("schema", raw)),
    }
}

async fn job_inputs(State(shared): State<Arc<Shared>>, Path(path): Path<JobPath>) -> ApiResult {
    let view = find_job(&shared, &path)?;
    let body = render::inputs_document(&view);
    Ok(json_response(StatusCode::OK, "application/json", &body))
}

async fn job_logs(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<JobPath>,
    Query(q): Params,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let view = find_job(&shared, &path)?;
    require_not_dismissed(&view, &urls(&shared, &headers, &uri))?;
    let api = urls(&shared, &headers, &uri).api;
    let lines = shared.read_logs(&view, &api);
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let text = accept.contains("text/plain")
        || matches!(q.get("f").map(String::as_str), Some("text" | "txt"));
    if text {
        let body = lines.join("\n");
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
            body,
        )
            .into_response());
    }
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        &json!(lines),
    ))
}

async fn job_exceptions(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<JobPath>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let view = find_job(&shared, &path)?;
    require_not_dismissed(&view, &urls(&shared, &headers, &uri))?;
    Ok(json_response(
        StatusCode::OK,
        "application/json",
        &view.def.exceptions,
    ))
}

/// Weaver's `/statistics` of a successful job, in its shape: the size of each single-file
/// output (`outputs.{id}.sizeBytes`; arrays and directories are absent, as in Weaver's
/// `collect_statistics`). 404 `NoJobStatistics` before the job succeeded; the old imitation
/// predates statistics: 404. A test may make the sizes lie ([`Shared::statistics_skew`]).
async fn job_statistics(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<JobPath>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let view = find_job(&shared, &path)?;
    if view.def.legacy {
        return Err(ApiError::not_found(uri.path()));
    }
    require_not_dismissed(&view, &urls(&shared, &headers, &uri))?;
    if !view.status.is_success() {
        return Err(ApiError::no_statistics(&view.def.id));
    }
    let skew = shared.statistics_skew();
    let sizes: Vec<(&str, u64)> = view
        .def
        .outputs
        .iter()
        .filter_map(|(id, output)| match output {
            Output::Href { path, .. } if !path.ends_with('/') => {
                let size = view.def.file(path)?.source.len();
                Some((*id, size.saturating_add_signed(skew)))
            }
            _ => None,
        })
        .collect();
    let total: u64 = sizes.iter().map(|(_, n)| n).sum();
    let outputs: serde_json::Map<String, Value> = sizes
        .iter()
        .map(|(id, n)| {
            (
                id.to_string(),
                json!({"size": human_size(*n), "sizeBytes": n}),
            )
        })
        .collect();
    let body = json!({
        "application": {"usedMemory": human_size(1 << 20), "usedMemoryBytes": 1 << 20},
        "process": {"totalSize": human_size(total), "totalSizeBytes": total},
        "outputs": outputs,
    });
    Ok(json_response(StatusCode::OK, "application/json", &body))
}

/// Weaver's size text: `3.000 B`, `1.500 KiB`, `2.000 MiB`.
fn human_size(n: u64) -> String {
    let mut value = n as f64;
    let mut unit = 0;
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.3} {}", UNITS[unit])
}

/// Weaver's W3C PROV document of a successful job (only where CWL provenance is on: not for
/// the old imitation).
async fn job_prov(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<JobPath>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    let view = find_job(&shared, &path)?;
    let urls = urls(&shared, &headers, &uri);
    require_success(&view, &urls)?;
    if view.def.legacy {
        return Err(ApiError::not_found(uri.path()));
    }
    let body = json!({"prefix": {"wf": "https://w3id.org/cwl/prov#"},
                      "activity": {format!("id:{}", view.def.id): {"prov:type": "wfprov:WorkflowRun"}}});
    Ok(json_response(StatusCode::OK, "application/json", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_math() {
        assert_eq!(
            paginate(25, 0, 10),
            Some(Page {
                start: 0,
                end: 10,
                last: 2
            })
        );
        assert_eq!(
            paginate(25, 2, 10),
            Some(Page {
                start: 20,
                end: 25,
                last: 2
            })
        );
        assert_eq!(paginate(25, 3, 10), None);
        assert_eq!(paginate(20, 1, 10).unwrap().last, 1);
        assert_eq!(paginate(20, 2, 10), None);
        // Page 0 of an empty listing is fine, page 1 is not.
        assert_eq!(
            paginate(0, 0, 10),
            Some(Page {
                start: 0,
                end: 0,
                last: 0
            })
        );
        assert_eq!(paginate(0, 1, 10), None);
        assert_eq!(paginate(5, u64::MAX, 1000), None);
    }

    #[test]
    fn schema_values() {
        assert_eq!(parse_schema(None).unwrap(), (false, false));
        assert_eq!(parse_schema(Some("ogc")).unwrap(), (false, false));
        assert_eq!(parse_schema(Some("OGC strict")).unwrap(), (false, true));
        assert_eq!(parse_schema(Some("old+strict")).unwrap(), (true, true));
        assert_eq!(parse_schema(Some("OLD")).unwrap(), (true, false));
        assert!(parse_schema(Some("json")).is_err());
    }

    #[test]
    fn results_profile_detection() {
        let mut h = HeaderMap::new();
        let q = HashMap::new();
        assert!(!wants_results_profile(&h, &q));
        h.insert(
            "accept-profile",
            HeaderValue::from_static("http://www.opengis.net/def/profile/OGC/0/ogc-results"),
        );
        assert!(wants_results_profile(&h, &q));
        h.insert(
            "accept-profile",
            HeaderValue::from_static("<https://www.opengis.net/def/profile/OGC/0/ogc-results>"),
        );
        assert!(wants_results_profile(&h, &q));
        h.insert(
            "accept-profile",
            HeaderValue::from_static("https://www.opengis.net/def/profile/OGC/0/dev/ogc-results"),
        );
        assert!(!wants_results_profile(&h, &q));
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/json; profile=\"https://www.opengis.net/def/profile/OGC/0/ogc-results\"",
            ),
        );
        assert!(wants_results_profile(&h, &q));
        let q = HashMap::from([(
            "profile".to_string(),
            "https://www.opengis.net/def/profile/OGC/0/ogc-results".to_string(),
        )]);
        assert!(wants_results_profile(&HeaderMap::new(), &q));
    }
}
