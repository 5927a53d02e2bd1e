//! JSON (and multipart) documents Weaver sends for a job, per the dossier
//! §4–5. Pure functions of a `JobView` and the public base URLs.

use serde_json::{json, Map, Value};

use super::clock::{self, Micros};
use super::jobs::{Output, Status};
use super::state::JobView;

/// Public base URLs, built from the request's `Host`.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// e.g. `http://127.0.0.1:8080/weaver`
    pub api: String,
    /// e.g. `http://127.0.0.1:8080/wpsoutputs`
    pub files: String,
}

impl Urls {
    pub(crate) fn for_origin(origin: &str) -> Urls {
        Urls {
            api: format!("{origin}/weaver"),
            files: format!("{origin}/wpsoutputs"),
        }
    }

    /// Canonical job URL: Weaver always links the process-scoped form.
    pub(crate) fn job(&self, view: &JobView) -> String {
        format!(
            "{}/processes/{}/jobs/{}",
            self.api, view.def.process, view.def.id
        )
    }

    fn href(&self, view: &JobView, path: &str) -> String {
        format!("{}/{}/{}", self.files, view.def.id, path)
    }
}

const REL_OGC: &str = "http://www.opengis.net/def/rel/ogc/1.0";

fn link(href: String, rel: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": "application/json", "hreflang": "en-CA", "title": title})
}

/// The job's links (`datatype.py::Job.links`). `self_suffix` is the sub-path
/// of the document being served (`""` for the status, `/outputs`, ...).
pub(crate) fn job_links(view: &JobView, urls: &Urls, self_suffix: &str) -> Vec<Value> {
    let job = urls.job(view);
    let process = format!("{}/processes/{}", urls.api, view.def.process);
    let mut links = vec![
        link(job.clone(), "status", "Job status."),
        link(job.clone(), "monitor", "Job monitoring location."),
        link(
            format!("{}/jobs/{}?f=json", urls.api, view.def.id),
            "alternate",
            "Job status generic endpoint.",
        ),
        link(
            format!("{}/jobs", urls.api),
            &format!("{REL_OGC}/job-list"),
            "List of submitted jobs.",
        ),
        link(
            format!("{process}/execution"),
            &format!("{REL_OGC}/execute"),
            "New job submission endpoint for the corresponding process.",
        ),
        link(format!("{job}/inputs"), "inputs", "Submitted job inputs."),
        link(
            format!("{process}/jobs"),
            "collection",
            "List of submitted jobs for the process.",
        ),
        link(format!("{job}/logs"), "logs", "List of collected job logs."),
        link(
            format!("{job}/logs"),
            &format!("{REL_OGC}/log"),
            "List of collected job logs.",
        ),
    ];
    if view.status.is_success() {
        links.push(link(
            format!("{job}/outputs"),
            "outputs",
            "Job outputs of successful process execution (extended outputs with metadata).",
        ));
        links.push(link(
            format!("{job}/results"),
            &format!("{REL_OGC}/results"),
            "Job results of successful process execution (direct output values mapping).",
        ));
        links.push(link(
            format!("{job}/statistics"),
            "statistics",
            "Job statistics collected following process execution.",
        ));
    }
    if matches!(view.status, Status::Failed | Status::Dismissed) {
        links.push(link(
            format!("{job}/exceptions"),
            &format!("{REL_OGC}/exceptions"),
            "List of job exceptions if applicable in case of failing job.",
        ));
    }
    let (up, up_title) = if self_suffix.is_empty() {
        (process, "Process description.")
    } else {
        (job.clone(), "Job status.")
    };
    links.push(link(
        format!("{job}{self_suffix}"),
        "self",
        "Current resource.",
    ));
    links.push(link(up, "up", up_title));
    links
}

/// `Link` header value for one link object.
pub(crate) fn link_header(link: &Value) -> String {
    let mut out = format!("<{}>", link["href"].as_str().unwrap_or_default());
    for key in ["rel", "type", "title"] {
        if let Some(v) = link[key].as_str() {
            out.push_str(&format!("; {key}=\"{v}\""));
        }
    }
    out
}

/// `GET /jobs/{id}`.
pub(crate) fn status_document(view: &JobView, urls: &Urls, now: Micros) -> Value {
    let mut doc = Map::new();
    if !view.def.legacy {
        // `id` and `processingEntityType` only exist since Weaver 6.11.
        doc.insert("id".into(), json!(view.def.id));
    }
    doc.insert("jobID".into(), json!(view.def.id));
    doc.insert("processID".into(), json!(view.def.process));
    doc.insert("providerID".into(), Value::Null);
    if !view.def.legacy {
        doc.insert("processingEntityType".into(), json!("ogc-api-processes"));
    }
    doc.insert("type".into(), json!("process"));
    doc.insert("status".into(), json!(view.status.as_str()));
    doc.insert("message".into(), json!(view.message()));
    doc.insert("created".into(), json!(clock::iso8601(view.def.created)));
    if let Some(t) = view.started {
        doc.insert("started".into(), json!(clock::iso8601(t)));
    }
    if let Some(t) = view.finished {
        doc.insert("finished".into(), json!(clock::iso8601(t)));
    }
    doc.insert("updated".into(), json!(clock::iso8601(view.updated)));
    if let Some(started) = view.started {
        let micros = (view.finished.unwrap_or(now) - started).max(0);
        let secs = clock::secs(micros);
        doc.insert("duration".into(), json!(duration(secs)));
        doc.insert("runningDuration".into(), json!(format!("PT{secs}S")));
        doc.insert("runningSeconds".into(), json!(micros as f64 / 1e6));
    }
    let progress = match view.status {
        Status::Created | Status::Accepted => 0,
        Status::Running => 42,
        _ => 100,
    };
    doc.insert("percentCompleted".into(), json!(progress));
    doc.insert("progress".into(), json!(progress));
    doc.insert("links".into(), json!(job_links(view, urls, "")));
    Value::Object(doc)
}

/// Python's `str(timedelta)` zero-filled to 8 characters, as Weaver prints
/// `duration`: `00:00:10`, or `1 day, 2:03:04` past a day.
fn duration(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match d {
        0 => format!("{h:02}:{m:02}:{s:02}"),
        1 => format!("1 day, {h}:{m:02}:{s:02}"),
        _ => format!("{d} days, {h}:{m:02}:{s:02}"),
    }
}

/// `GET /jobs/{id}/results` as a JSON document: output ids at the root,
/// plain literals unwrapped, no `links` key.
pub(crate) fn results_document(view: &JobView, urls: &Urls) -> Value {
    let map = view
        .def
        .outputs
        .iter()
        .map(|(id, out)| (id.to_string(), result_value(view, urls, out)))
        .collect();
    Value::Object(map)
}

fn result_value(view: &JobView, urls: &Urls, out: &Output) -> Value {
    match out {
        Output::Literal(v) => v.clone(),
        Output::Qualified { .. } | Output::BBox { .. } => qualified(out),
        Output::Href { path, media_type } => {
            json!({"href": urls.href(view, path), "type": media_type})
        }
        Output::Array(items) => items.iter().map(|o| result_value(view, urls, o)).collect(),
    }
}

/// Qualified literal or bbox object, shared by `/results` and `/outputs`.
fn qualified(out: &Output) -> Value {
    match out {
        Output::Qualified {
            value,
            media_type,
            encoding,
        } => {
            let mut v = json!({"value": value, "mediaType": media_type});
            if let Some(enc) = encoding {
                v["encoding"] = json!(enc);
            }
            v
        }
        Output::BBox { bbox, crs } => json!({"bbox": bbox, "crs": crs}),
        _ => unreachable!("not a qualified value"),
    }
}

/// `GET /jobs/{id}/outputs?schema=OGC`: literals always wrapped in `value`,
/// files with `type` and (unless `strict`) `format.mediaType`.
pub(crate) fn outputs_ogc(view: &JobView, urls: &Urls, strict: bool) -> Value {
    let outputs: Map<String, Value> = view
        .def
        .outputs
        .iter()
        .map(|(id, out)| (id.to_string(), ogc_value(view, urls, out, strict)))
        .collect();
    json!({"outputs": outputs, "links": job_links(view, urls, "/outputs")})
}

fn ogc_value(view: &JobView, urls: &Urls, out: &Output, strict: bool) -> Value {
    match out {
        Output::Literal(v) => json!({"value": v}),
        Output::Qualified { .. } | Output::BBox { .. } => qualified(out),
        Output::Href { path, media_type } => {
            let mut v = json!({"href": urls.href(view, path), "type": media_type});
            if !strict {
                v["format"] = json!({"mediaType": media_type});
            }
            v
        }
        Output::Array(items) => items
            .iter()
            .map(|o| ogc_value(view, urls, o, strict))
            .collect(),
    }
}

/// The pre-6.0 list form: one entry per value, arrays as repeated ids.
/// `strict` (and the legacy imitation) drop the `type` of files.
pub(crate) fn outputs_old(view: &JobView, urls: &Urls, strict: bool) -> Value {
    let strict = strict || view.def.legacy;
    let mut list = Vec::new();
    for (id, out) in &view.def.outputs {
        push_old(view, urls, id, out, strict, &mut list);
    }
    // The legacy imitation predates output links.
    let links = if view.def.legacy {
        Vec::new()
    } else {
        job_links(view, urls, "/outputs")
    };
    json!({"outputs": list, "links": links})
}

fn push_old(
    view: &JobView,
    urls: &Urls,
    id: &str,
    out: &Output,
    strict: bool,
    list: &mut Vec<Value>,
) {
    let item = match out {
        Output::Literal(v) => json!({"id": id, "data": v}),
        Output::Qualified { value, .. } => json!({"id": id, "data": value}),
        Output::BBox { .. } => json!({"id": id, "data": qualified(out)}),
        Output::Href { path, media_type } if strict => json!({
            "id": id,
            "href": urls.href(view, path),
            "format": {"mimeType": media_type},
        }),
        Output::Href { path, media_type } => json!({
            "id": id,
            "href": urls.href(view, path),
            "type": media_type,
            "format": {"mimeType": media_type},
        }),
        Output::Array(items) => {
            for item in items {
                push_old(view, urls, id, item, strict, list);
            }
            return;
        }
    };
    list.push(item);
}

/// `GET /jobs/{id}/inputs`.
pub(crate) fn inputs_document(view: &JobView) -> Value {
    let response = match view.def.response {
        super::jobs::ResponseMode::Document => "document",
        super::jobs::ResponseMode::Raw => "raw",
    };
    json!({
        "mode": "async",
        "response": response,
        "inputs": view.def.inputs,
        "outputs": view.def.requested,
        "headers": {
            "Accept": "application/json",
            "Accept-Language": null,
            "Accept-Profile": null,
            "Prefer": "respond-async",
            "X-WPS-Output-Context": null,
        },
        "links": [],
    })
}

/// `Link` headers of a raw-by-reference `/results` (204): one per output
/// (`{id}.{i}` for array items) plus Weaver's duplicate `rel="output"` form.
pub(crate) fn raw_link_headers(view: &JobView, urls: &Urls) -> Vec<String> {
    let mut headers = Vec::new();
    for (id, out) in &view.def.outputs {
        let items: Vec<(String, &Output)> = match out {
            Output::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("{id}.{i}"), o))
                .collect(),
            other => vec![(id.to_string(), other)],
        };
        for (rel, item) in items {
            if let Output::Href { path, media_type } = item {
                let href = urls.href(view, path);
                headers.push(format!("<{href}>; rel=\"{rel}\"; type=\"{media_type}\""));
                headers.push(format!(
                    "<{href}>; rel=\"output\"; type=\"{media_type}\"; id=\"{rel}\""
                ));
            }
        }
    }
    headers
}

/// Boundary of the outer multipart body.
pub(crate) const BOUNDARY: &str = "weaverfs-results-0b7e";

/// A `multipart/mixed` results body (RFC 2046) as an old Weaver or a raw
/// multi-output job would send: literals inline, files by reference.
pub(crate) fn multipart_results(view: &JobView, urls: &Urls) -> String {
    let parts: Vec<String> = view
        .def
        .outputs
        .iter()
        .map(|(id, out)| multipart_part(view, urls, id, out))
        .collect();
    multipart_body(BOUNDARY, &parts)
}

fn multipart_body(boundary: &str, parts: &[String]) -> String {
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!("--{boundary}\r\n{part}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

fn multipart_part(view: &JobView, urls: &Urls, id: &str, out: &Output) -> String {
    let cid = format!("<{id}@{}>", view.def.id);
    match out {
        Output::Href { path, media_type } => {
            let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path);
            format!(
                "Content-Disposition: attachment; name=\"{id}\"; filename=\"{name}\"\r\n\
                 Content-Type: {media_type}\r\n\
                 Content-Location: {}\r\n\
                 Content-ID: {cid}\r\n\
                 Content-Length: 0\r\n\r\n",
                urls.href(view, path)
            )
        }
        Output::Array(items) => {
            // Must not contain the outer boundary (RFC 2046 §5.1.1).
            let inner = format!("weaverfs-array-{id}-5d2a");
            let parts: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, o)| multipart_part(view, urls, &format!("{id}.{i}"), o))
                .collect();
            format!(
                "Content-Disposition: attachment; name=\"{id}\"\r\n\
                 Content-Type: multipart/mixed; boundary=\"{inner}\"\r\n\
                 Content-ID: {cid}\r\n\r\n{}",
                multipart_body(&inner, &parts)
            )
        }
        literal => {
            let (data, media_type) = match literal {
                Output::Literal(Value::String(s)) => (s.clone(), "text/plain"),
                Output::Literal(v) => (v.to_string(), "text/plain"),
                Output::Qualified {
                    value: Value::String(s),
                    media_type,
                    ..
                } => (s.clone(), *media_type),
                Output::Qualified {
                    value, media_type, ..
                } => (value.to_string(), *media_type),
                other => (qualified(other).to_string(), "application/json"),
            };
            format!(
                "Content-Disposition: attachment; name=\"{id}\"\r\n\
                 Content-Type: {media_type}\r\n\
                 Content-ID: {cid}\r\n\
                 Content-Length: {}\r\n\r\n{data}",
                data.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::jobs::{self, Catalog};
    use super::super::state::Shared;
    use super::*;
    use std::time::Duration;

    fn setup() -> (Shared, Urls) {
        let shared = Shared::new(Catalog::new(4096, 0), Duration::ZERO, false);
        (shared, Urls::for_origin("http://h:1"))
    }

    fn files(job: &str, path: &str) -> String {
        format!("http://h:1/wpsoutputs/{job}/{path}")
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.1416 is the sample output, not π
    fn literals_results_document() {
        let (s, urls) = setup();
        let doc = results_document(&s.job(jobs::LITERALS).unwrap(), &urls);
        let expected = json!({
            "message": "hello world",
            "count": 42,
            "ratio": 3.1416,
            "flag": true,
            "config": {"value": {"threshold": 0.5, "bands": [1, 2]}, "mediaType": "application/json"},
            "region": {"bbox": [-74.0, 45.0, -70.0, 47.0], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
            "table": {"value": "YSxiCjEsMgo=", "mediaType": "text/csv", "encoding": "base64"},
            "ints": [1, 2, 3],
            "labels": [{"value": "1", "mediaType": "text/plain"}, {"value": "2", "mediaType": "text/special"}],
        });
        assert_eq!(doc, expected);
    }

    #[test]
    fn files_results_document() {
        let (s, urls) = setup();
        let f = jobs::FILES;
        let doc = results_document(&s.job(f).unwrap(), &urls);
        assert_eq!(
            doc["output_text"],
            json!({"href": files(f, "output_text/result.txt"), "type": "text/plain"})
        );
        assert_eq!(doc["output_big"]["href"], files(f, "output_big/big.dat"));
        assert_eq!(doc["output_netcdf"]["type"], "application/x-netcdf");
        let arr = doc["files"].as_array().unwrap();
        assert_eq!(arr.len(), 3);
        assert_eq!(arr[2]["href"], files(f, "files/sub/a.json"));
        assert_eq!(
            doc["output_dir"],
            json!({"href": files(f, "output_dir/"), "type": "application/directory"})
        );
        assert_eq!(doc["summary"], "2 files");
        assert!(doc.get("links").is_none());
    }

    #[test]
    fn running_job_results_after_success() {
        let (s, urls) = setup();
        s.set_status(jobs::RUNNING, Status::Successful);
        let doc = results_document(&s.job(jobs::RUNNING).unwrap(), &urls);
        assert_eq!(doc["message"], "done");
        assert_eq!(
            doc["report"]["href"],
            files(jobs::RUNNING, "report/report.txt")
        );
    }

    #[test]
    fn outputs_ogc_wraps_literals() {
        let (s, urls) = setup();
        let doc = outputs_ogc(&s.job(jobs::LITERALS).unwrap(), &urls, false);
        assert_eq!(doc["outputs"]["message"], json!({"value": "hello world"}));
        assert_eq!(
            doc["outputs"]["ints"],
            json!([{"value": 1}, {"value": 2}, {"value": 3}])
        );
        assert!(!doc["links"].as_array().unwrap().is_empty());
        let doc = outputs_ogc(&s.job(jobs::FILES).unwrap(), &urls, false);
        assert_eq!(
            doc["outputs"]["output_bin"]["format"]["mediaType"],
            "application/octet-stream"
        );
        let strict = outputs_ogc(&s.job(jobs::FILES).unwrap(), &urls, true);
        assert_eq!(
            strict["outputs"]["output_bin"],
            json!({"href": files(jobs::FILES, "output_bin/data.bin"), "type": "application/octet-stream"})
        );
    }

    #[test]
    fn outputs_old_repeats_array_ids() {
        let (s, urls) = setup();
        let doc = outputs_old(&s.job(jobs::FILES).unwrap(), &urls, false);
        let list = doc["outputs"].as_array().unwrap();
        let ids: Vec<&str> = list.iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert_eq!(ids.iter().filter(|i| **i == "files").count(), 3);
        let summary = list.iter().find(|o| o["id"] == "summary").unwrap();
        assert_eq!(summary, &json!({"id": "summary", "data": "2 files"}));

        let old = outputs_old(&s.job(jobs::OLD).unwrap(), &urls, false);
        assert_eq!(
            old,
            json!({"outputs": [
                {"id": "text", "data": "old style"},
                {"id": "parts", "href": files(jobs::OLD, "parts/p1.txt"), "format": {"mimeType": "text/plain"}},
                {"id": "parts", "href": files(jobs::OLD, "parts/p2.txt"), "format": {"mimeType": "text/plain"}},
            ], "links": []})
        );
    }

    #[test]
    fn status_documents() {
        let (s, urls) = setup();
        let now = clock::now();
        let doc = status_document(&s.job(jobs::LITERALS).unwrap(), &urls, now);
        assert_eq!(doc["id"], jobs::LITERALS);
        assert_eq!(doc["jobID"], jobs::LITERALS);
        assert_eq!(doc["type"], "process");
        assert_eq!(doc["status"], "successful");
        assert_eq!(doc["finished"], "2026-11-01T10:00:00+00:00");
        assert_eq!(doc["progress"], 100);
        let rels: Vec<&str> = doc["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["rel"].as_str().unwrap())
            .collect();
        assert!(rels.contains(&"outputs") && rels.contains(&"self"));

        let running = status_document(&s.job(jobs::RUNNING).unwrap(), &urls, now);
        assert_eq!(running["status"], "running");
        assert!(running.get("finished").is_none());
        assert!(running.get("started").is_some());

        let old = status_document(&s.job(jobs::OLD).unwrap(), &urls, now);
        assert_eq!(old["status"], "succeeded");
        assert!(old.get("id").is_none());
    }

    #[test]
    fn durations_like_weaver() {
        assert_eq!(duration(10), "00:00:10");
        assert_eq!(duration(3 * 3600 + 62), "03:01:02");
        assert_eq!(duration(86_400 + 2 * 3600 + 3 * 60 + 4), "1 day, 2:03:04");
        assert_eq!(duration(3 * 86_400 + 5), "3 days, 0:00:05");
    }

    #[test]
    fn raw_job_links() {
        let (s, urls) = setup();
        let headers = raw_link_headers(&s.job(jobs::RAW).unwrap(), &urls);
        assert_eq!(
            headers[0],
            format!(
                "<{}>; rel=\"output_raw\"; type=\"text/plain\"",
                files(jobs::RAW, "output_raw/raw.txt")
            )
        );
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn multipart_body_is_well_formed() {
        let (s, urls) = setup();
        let body = multipart_results(&s.job(jobs::OLD).unwrap(), &urls);
        assert!(body.starts_with(&format!("--{BOUNDARY}\r\n")));
        assert!(body.ends_with(&format!("--{BOUNDARY}--\r\n")));
        assert!(body.contains("\r\n\r\nold style\r\n"));
        assert!(body.contains(&format!(
            "Content-Location: {}",
            files(jobs::OLD, "parts/p2.txt")
        )));
        assert_eq!(body.matches("--weaverfs-array-parts-5d2a--").count(), 1);
        // text, parts, and the closing delimiter.
        assert_eq!(body.matches(&format!("--{BOUNDARY}")).count(), 3);
    }

    #[test]
    fn inputs_document_reports_response_mode() {
        let (s, _) = setup();
        let doc = inputs_document(&s.job(jobs::RAW).unwrap());
        assert_eq!(doc["response"], "raw");
        assert_eq!(
            doc["outputs"]["output_raw"]["transmissionMode"],
            "reference"
        );
        let doc = inputs_document(&s.job(jobs::LITERALS).unwrap());
        assert_eq!(doc["outputs"], Value::Null);
    }
}
