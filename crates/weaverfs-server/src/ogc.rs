//! A second API under `/ogc`: an OGC API - Processes server that is not Weaver, answering
//! `/results` the ways pygeoapi and fastprocesses do (raw bodies, multipart/related, bare JSON
//! values, `{"outputs": [...]}` lists, 204 with `Link`, 500 for a failed job) and nothing else:
//! no `/outputs`, `/inputs`, `/logs` or `/exceptions`. Its listing caps `limit` at 3 and pages
//! by `offset` with relative `next` links. The fast path for the client's tests of these shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::state::Shared;

pub(crate) const PREFIX: &str = "/ogc";
/// The most jobs a listing page holds, whatever `limit` asks.
const MAX_LIMIT: usize = 3;
pub const BOUNDARY: &str = "ogc-part-boundary";
/// The raw body of the `ogc-text` job.
pub const TEXT: &str = "Hello from the sample OGC server\n";
/// The size of the `ogc-bytes` job's raw body (bytes `i % 251`).
pub const BYTES_SIZE: usize = 3 << 20;

/// What `/results` of a job answers.
enum Answer {
    /// 200 with this media type and body (and a Content-Disposition file name).
    Body(&'static str, Vec<u8>, Option<&'static str>),
    /// 204 with a `Link` to this path under the server.
    Link(&'static str, &'static str),
    /// An error status with an OGC exception body.
    Error(StatusCode, &'static str),
}

struct Job {
    id: &'static str,
    process: &'static str,
    status: &'static str,
    results: fn() -> Answer,
}

/// The jobs, in listing order (more than one page of [`MAX_LIMIT`]).
const JOBS: &[Job] = &[
    Job {
        id: "ogc-text",
        process: "greet",
        status: "successful",
        results: text,
    },
    Job {
        id: "ogc-bytes",
        process: "bytes",
        status: "successful",
        results: bytes,
    },
    Job {
        id: "ogc-named",
        process: "map",
        status: "successful",
        results: named,
    },
    Job {
        id: "ogc-multipart",
        process: "several",
        status: "successful",
        results: parts,
    },
    Job {
        id: "ogc-value",
        process: "values",
        status: "successful",
        results: value,
    },
    Job {
        id: "ogc-list",
        process: "echo",
        status: "successful",
        results: list,
    },
    Job {
        id: "ogc-document",
        process: "modes",
        status: "successful",
        results: document,
    },
    Job {
        id: "ogc-link",
        process: "greet",
        status: "successful",
        results: link,
    },
    Job {
        id: "ogc-failed",
        process: "greet",
        status: "failed",
        results: failed,
    },
    Job {
        id: "ogc-broken",
        process: "greet",
        status: "successful",
        results: broken,
    },
    Job {
        id: "ogc-running",
        process: "greet",
        status: "running",
        results: not_ready,
    },
];

/// The outputs each process declares.
fn declared(process: &str) -> Option<Value> {
    let out = |media: &str| json!({"schema": {"type": "string", "contentMediaType": media}});
    Some(match process {
        "greet" => json!({"greeting": out("text/plain")}),
        "bytes" => json!({"data": out("application/octet-stream")}),
        "map" => json!({"image": out("image/png"), "legend": out("image/png")}),
        "several" => json!({"message": out("text/plain"), "table": out("text/csv")}),
        "values" => json!({"values": {"schema": {"type": "array"}}}),
        "echo" => json!({"echo": out("text/plain")}),
        "modes" => {
            json!({"mode": out("application/json"), "count": {"schema": {"type": "integer"}}})
        }
        _ => return None,
    })
}

pub fn sample_bytes() -> Vec<u8> {
    (0..BYTES_SIZE).map(|i| (i % 251) as u8).collect()
}

fn text() -> Answer {
    Answer::Body("text/plain", TEXT.into(), None)
}
fn bytes() -> Answer {
    Answer::Body("application/octet-stream", sample_bytes(), None)
}
fn named() -> Answer {
    Answer::Body(
        "image/png",
        b"\x89PNG\r\n\x1a\nnot really".to_vec(),
        Some("map.png"),
    )
}
fn parts() -> Answer {
    let b = BOUNDARY;
    let body = format!(
        "--{b}\r\nContent-Type: text/plain\r\nContent-ID: <message@ogc-multipart>\r\n\r\nthree rows\n\r\n\
         --{b}\r\nContent-Type: text/csv\r\nContent-ID: <table>\r\n\r\nk,v\n1,1\n2,4\n\r\n--{b}--\r\n"
    );
    Answer::Body(
        "multipart/related; boundary=ogc-part-boundary",
        body.into(),
        None,
    )
}
fn value() -> Answer {
    Answer::Body("application/json", b"[1, 2, 3]".to_vec(), None)
}
fn list() -> Answer {
    let body = json!({"outputs": [{"id": "echo", "value": "Hello"}]});
    Answer::Body("application/json", body.to_string().into(), None)
}
fn document() -> Answer {
    let body = json!({"mode": {"value": "sync", "mediaType": "application/json"}, "count": 3});
    Answer::Body("application/json", body.to_string().into(), None)
}
fn link() -> Answer {
    Answer::Link("files/greeting.txt", "text/plain")
}
fn failed() -> Answer {
    Answer::Error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "boom: the sample job failed",
    )
}
fn broken() -> Answer {
    Answer::Error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the results store is down",
    )
}
fn not_ready() -> Answer {
    Answer::Error(StatusCode::NOT_FOUND, "Result not ready")
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(PREFIX, get(|| async { Json(json!({"links": []})) }))
        .route(&format!("{PREFIX}/jobs"), get(list_jobs))
        .route(&format!("{PREFIX}/jobs/{{id}}"), get(status))
        .route(&format!("{PREFIX}/jobs/{{id}}/results"), get(results))
        .route(&format!("{PREFIX}/processes/{{id}}"), get(process))
        .route(
            &format!("{PREFIX}/files/greeting.txt"),
            get(|| async { TEXT }),
        )
}

struct Json(Value);

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, "application/json")],
            self.0.to_string(),
        )
            .into_response()
    }
}

fn exception(status: StatusCode, title: &str, detail: &str) -> Response {
    let body =
        json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail});
    (status, Json(body)).into_response()
}

fn find(id: &str) -> Option<&'static Job> {
    JOBS.iter().find(|j| j.id == id)
}

fn not_found(id: &str) -> Response {
    exception(StatusCode::NOT_FOUND, "Job Not Found", id)
}

async fn list_jobs(Query(q): Query<HashMap<String, String>>) -> Response {
    let num = |k: &str, d: usize| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (limit, offset) = (num("limit", 10).clamp(1, MAX_LIMIT), num("offset", 0));
    let page: Vec<Value> = JOBS
        .iter()
        .skip(offset)
        .take(limit)
        .map(|j| json!({"jobID": j.id, "status": j.status, "processID": j.process}))
        .collect();
    let mut links = vec![json!({"href": "/ogc/jobs", "rel": "self"})];
    if offset + limit < JOBS.len() {
        let next = format!("/ogc/jobs?limit={limit}&offset={}", offset + limit);
        links.push(json!({"href": next, "rel": "next"}));
    }
    Json(json!({"jobs": page, "links": links})).into_response()
}

async fn status(Path(id): Path<String>) -> Response {
    match find(&id) {
        Some(j) => Json(json!({
            "jobID": j.id, "processID": j.process, "status": j.status, "type": "process",
            "created": "2026-11-01T10:00:00Z", "finished": "2026-11-01T10:01:00Z",
        }))
        .into_response(),
        None => not_found(&id),
    }
}

async fn results(Path(id): Path<String>) -> Response {
    let Some(job) = find(&id) else {
        return not_found(&id);
    };
    match (job.results)() {
        Answer::Body(media, body, file_name) => {
            let mut resp = ([(header::CONTENT_TYPE, media)], body).into_response();
            if let Some(name) = file_name {
                let v = format!("attachment; filename=\"{name}\"");
                resp.headers_mut().insert(
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&v).unwrap(),
                );
            }
            resp
        }
        Answer::Link(path, media) => {
            // Relative to the results URL, as fastprocesses' are to the server.
            let v = format!("<../../{path}>; rel=\"alternate\"; type=\"{media}\"");
            (StatusCode::NO_CONTENT, [(header::LINK, v)]).into_response()
        }
        Answer::Error(status, detail) => exception(status, "Job Failed", detail),
    }
}

async fn process(Path(id): Path<String>) -> Response {
    match declared(&id) {
        Some(outputs) => Json(json!({"id": id, "outputs": outputs})).into_response(),
        None => exception(StatusCode::NOT_FOUND, "Process Not Found", &id),
    }
}
