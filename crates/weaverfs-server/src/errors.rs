//! Error responses of the job API, with Weaver's codes and bodies (dossier §5.6).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::render::{self, Urls};
use super::state::JobView;

const EXC: &str = "https://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0";

/// A JSON error answer; `links` are also sent as `Link` headers, as Weaver does.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body.to_string(),
        )
            .into_response();
        if let Some(links) = self.body.get("links").and_then(Value::as_array) {
            for l in links {
                if let Ok(v) = render::link_header(l).parse() {
                    resp.headers_mut().append(header::LINK, v);
                }
            }
        }
        resp
    }
}

fn problem(status: StatusCode, title: &str, kind: &str, detail: &str, cause: Value) -> ApiError {
    ApiError {
        status,
        body: json!({
            "title": title,
            "type": kind,
            "detail": detail,
            "status": status.as_u16(),
            "cause": cause,
        }),
    }
}

impl ApiError {
    pub(crate) fn invalid_job_ref(id: &str) -> ApiError {
        problem(
            StatusCode::BAD_REQUEST,
            "NoSuchJob",
            &format!("{EXC}/no-such-job"),
            "Invalid job reference is not a valid UUID.",
            json!(id),
        )
    }

    pub(crate) fn no_such_job(id: &str) -> ApiError {
        problem(
            StatusCode::NOT_FOUND,
            "NoSuchJob",
            &format!("{EXC}/no-such-job"),
            "Could not find job with specified reference.",
            json!(id),
        )
    }

    pub(crate) fn no_such_process(process: &str) -> ApiError {
        problem(
            StatusCode::NOT_FOUND,
            "NoSuchProcess",
            &format!("{EXC}/no-such-job"),
            "Job reference does not belong to the requested process.",
            json!(process),
        )
    }

    pub(crate) fn not_ready(view: &JobView, urls: &Urls) -> ApiError {
        let mut e = problem(
            StatusCode::NOT_FOUND,
            "JobResultsNotReady",
            &format!("{EXC}/result-not-ready"),
            "Job is not ready to obtain results.",
            json!({"status": view.status.as_str()}),
        );
        e.body["links"] = json!(render::job_links(view, urls, ""));
        e
    }

    pub(crate) fn results_failed(view: &JobView, urls: &Urls) -> ApiError {
        let mut e = problem(
            StatusCode::BAD_REQUEST,
            "JobResultsFailed",
            &format!("{EXC}/result-not-available"),
            "Job results not available because execution failed.",
            json!("400 MissingParameterValue: input"),
        );
        e.body["error"] = json!("MissingParameterValue");
        e.body["links"] = json!(render::job_links(view, urls, ""));
        e
    }

    /// Weaver's answer for a job whose statistics are not collected (not finished yet).
    pub(crate) fn no_statistics(id: &str) -> ApiError {
        problem(
            StatusCode::NOT_FOUND,
            "NoJobStatistics",
            &format!("{EXC}/no-job-statistics"),
            "Job statistics are not available.",
            json!(id),
        )
    }

    pub(crate) fn dismissed(view: &JobView, urls: &Urls) -> ApiError {
        let mut e = problem(
            StatusCode::GONE,
            "JobDismissed",
            &format!("{EXC}/result-not-available"),
            "Job was dismissed and artifacts have been removed.",
            json!({"status": view.status.as_str()}),
        );
        e.body["value"] = json!(view.def.id);
        e.body["links"] = json!(render::job_links(view, urls, ""));
        e
    }

    /// Legacy-style body used by the listing (`code`/`description`).
    pub(crate) fn invalid_listing(description: String, cause: &str, value: Value) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "code": "JobInvalidParameter",
                "description": description,
                "cause": cause,
                "error": if cause.starts_with("Invalid paging") { "IndexError" } else { "Invalid" },
                "value": value,
            }),
        }
    }

    pub(crate) fn invalid_query(name: &str, value: &str) -> ApiError {
        problem(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "InvalidParameterValue",
            &format!("Query parameter '{name}' value is invalid."),
            json!({"name": name, "value": value}),
        )
    }

    pub(crate) fn method_not_allowed(path: &str) -> ApiError {
        ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: json!({
                "code": "MethodNotAllowed",
                "description": "The method is not allowed for this resource.",
                "status": 405,
                "cause": path,
            }),
        }
    }

    pub(crate) fn not_found(path: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: json!({
                "code": "NotFound",
                "description": "The resource could not be found.",
                "status": 404,
                "cause": path,
            }),
        }
    }
}
