//! The `/results` answers that are not an OGC results document, as outputs: raw bodies,
//! `multipart/related` and `multipart/mixed` bodies, JSON values, `{"outputs": [...]}` lists
//! and `204` answers whose `Link` headers name the outputs.
//!
//! Naming rule for a raw body (and for a lone link of a 204): `Content-Disposition`'s filename,
//! else the process's single declared output id, else `result`; the tree then appends the
//! extension of the media type. Multipart parts are named by their `Content-ID` (`<id>` or
//! `<id@job>`).

use reqwest::header::{HeaderMap, CONTENT_DISPOSITION, CONTENT_TYPE, LINK};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::results::{is_json_media, media_essence, parse_outputs_response, parse_value};
use super::{FileRef, Output, OutputValue};

/// The name of an output that nothing else names.
pub const DEFAULT_NAME: &str = "result";

/// What a `GET /results` answered, with its body only where it must be read to be understood
/// (JSON, multipart, errors); a raw body is read later, lazily, from the same URL.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The URL that answered (after redirects): relative links resolve against it.
    pub url: Url,
    pub status: StatusCode,
    pub content_type: Option<String>,
    /// `Content-Disposition`'s filename.
    pub file_name: Option<String>,
    /// `Link` headers: (href, rel, type).
    pub links: Vec<(String, String, Option<String>)>,
    pub body: Option<Vec<u8>>,
}

impl Answer {
    pub fn new(url: Url, status: StatusCode, headers: &HeaderMap) -> Answer {
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        Answer {
            url,
            status,
            content_type: text(CONTENT_TYPE).map(str::to_string),
            file_name: text(CONTENT_DISPOSITION).and_then(disposition_file_name),
            links: headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_link_header)
                .collect(),
            body: None,
        }
    }

    /// Whether the body is needed to tell the outputs (JSON, multipart) or the error.
    pub fn needs_body(&self) -> bool {
        !self.status.is_success() || self.is_json() || self.is_multipart()
    }

    pub fn is_json(&self) -> bool {
        self.content_type.as_deref().is_some_and(is_json_media)
    }

    fn is_multipart(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| {
            matches!(
                media_essence(c).as_str(),
                "multipart/related" | "multipart/mixed"
            )
        })
    }

    /// `URL answered STATUS (reason)`: what a warning about this answer says.
    pub fn describe(&self, reason: &str) -> String {
        format!("{} answered {}: {reason}", self.url, self.status)
    }
}

/// The outputs an answer holds, and the JSON document to show as `.job/results.json` if it was
/// one. `declared` are the output ids of the job's process (empty when unknown).
pub async fn interpret(
    answer: &Answer,
    declared: &[String],
) -> Result<(Vec<Output>, Option<Vec<u8>>), String> {
    let single_name = || {
        answer
            .file_name
            .clone()
            .or_else(|| (declared.len() == 1).then(|| declared[0].clone()))
            .unwrap_or_else(|| DEFAULT_NAME.to_string())
    };
    match answer.status {
        StatusCode::OK => {}
        StatusCode::NO_CONTENT if !answer.links.is_empty() => {
            return Ok((links_as_outputs(answer, single_name()), None))
        }
        status => {
            let body = answer.body.as_deref().unwrap_or_default();
            let reason = super::error_text(body).unwrap_or_else(|| {
                status
                    .canonical_reason()
                    .unwrap_or("no results")
                    .to_string()
            });
            return Err(answer.describe(&reason));
        }
    }
    let body = answer.body.as_deref();
    if answer.is_multipart() {
        let outputs = parse_multipart(answer, body.unwrap_or_default())
            .await
            .map_err(|e| answer.describe(&e))?;
        return Ok((outputs, None));
    }
    if answer.is_json() {
        let body = body.unwrap_or_default();
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| answer.describe(&format!("the JSON body does not parse: {e}")))?;
        if let Some(outputs) = as_document(&doc, declared) {
            return Ok((outputs, Some(body.to_vec())));
        }
        // Not a results document: the value of the single output, exactly as served.
        let value = OutputValue::Data {
            bytes: body.to_vec(),
            media_type: Some("application/json".into()),
        };
        let outputs = vec![Output {
            id: single_name(),
            value,
        }];
        return Ok((outputs, Some(body.to_vec())));
    }
    // A raw body: read from /results itself when the file is read.
    let value = OutputValue::File(FileRef {
        href: answer.url.to_string(),
        media_type: answer.content_type.clone(),
        digest: None,
        length: None,
    });
    Ok((
        vec![Output {
            id: single_name(),
            value,
        }],
        None,
    ))
}

/// The outputs of a JSON body that is a results document: `{"outputs": {...} | [{id, ...}]}`,
/// or a mapping whose keys are the process's output ids (any mapping when those are unknown).
fn as_document(doc: &Value, declared: &[String]) -> Option<Vec<Output>> {
    let map = doc.as_object()?;
    if let Some(inner) = map.get("outputs") {
        let listed = inner.as_array().is_some_and(|items| {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.get("id").is_some_and(Value::is_string))
        });
        if listed || inner.is_object() {
            if let Ok(outputs) = parse_outputs_response(doc) {
                return Some(outputs);
            }
        }
    }
    let keys: Vec<&String> = map
        .keys()
        .filter(|k| *k != "links" && !k.starts_with('$'))
        .collect();
    let all_declared = !keys.is_empty() && keys.iter().all(|k| declared.contains(k));
    if declared.is_empty() || all_declared {
        return super::results::parse_results(doc).ok();
    }
    None
}

/// A 204's links as href outputs: one link takes the single-output name, several their titles
/// (`rel` when it is not a registered relation) or their file names.
fn links_as_outputs(answer: &Answer, single_name: String) -> Vec<Output> {
    let one = answer.links.len() == 1;
    answer
        .links
        .iter()
        .filter_map(|(href, rel, media_type)| {
            let url = resolve(&answer.url, href)?;
            let id = if one {
                single_name.clone()
            } else if !rel.contains(':') && !matches!(rel.as_str(), "alternate" | "results") {
                rel.clone()
            } else {
                crate::tree::naming::href_file_name(url.as_str())
            };
            Some(Output {
                id,
                value: OutputValue::File(FileRef {
                    href: url.to_string(),
                    media_type: media_type.clone(),
                    digest: None,
                    length: None,
                }),
            })
        })
        .collect()
}

/// `href` resolved against `base`; None (logged) for a link that cannot be used.
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    match base.join(href) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Some(url),
        Ok(url) => {
            tracing::warn!("{base}: the link {href:?} is not HTTP ({url}); skipped");
            None
        }
        Err(e) => {
            tracing::warn!("{base}: the link {href:?} cannot be resolved: {e}; skipped");
            None
        }
    }
}

/// Makes every href of `outputs` absolute, resolved against the URL that served them.
pub fn resolve_hrefs(outputs: &mut [Output], base: &Url) {
    fn walk(value: &mut OutputValue, base: &Url) {
        match value {
            OutputValue::File(f) => {
                if let Some(url) = resolve(base, &f.href) {
                    f.href = url.to_string();
                }
            }
            OutputValue::Items(items) => items.iter_mut().for_each(|i| walk(i, base)),
            _ => {}
        }
    }
    for o in outputs {
        walk(&mut o.value, base);
    }
}

/// One output per part: id from `Content-ID`, media type from the part; a part with
/// `Content-Location` is an href; text and JSON parts follow the literal rules.
async fn parse_multipart(answer: &Answer, body: &[u8]) -> Result<Vec<Output>, String> {
    let content_type = answer.content_type.as_deref().unwrap_or_default();
    // multer's own parse_boundary accepts multipart/form-data only.
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
        .ok_or("multipart body without a boundary")?;
    let chunk = bytes::Bytes::copy_from_slice(body);
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(chunk) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut outputs = Vec::new();
    while let Some(part) = parts
        .next_field()
        .await
        .map_err(|e| format!("bad multipart body: {e}"))?
    {
        let header = |name: &str| {
            part.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let id = header("content-id")
            .map(|c| content_id(&c))
            .or_else(|| part.name().map(str::to_string))
            .or_else(|| part.file_name().map(str::to_string))
            .unwrap_or_else(|| DEFAULT_NAME.to_string());
        let media_type = header("content-type");
        let location = header("content-location");
        let bytes = part
            .bytes()
            .await
            .map_err(|e| format!("bad multipart part {id:?}: {e}"))?;
        let value = match location.and_then(|l| resolve(&answer.url, &l)) {
            Some(url) => OutputValue::File(FileRef {
                href: url.to_string(),
                media_type,
                digest: None,
                length: None,
            }),
            None => part_value(bytes.to_vec(), media_type),
        };
        outputs.push(Output { id, value });
    }
    Ok(outputs)
}

/// `<id>` or `<id@job>` → `id`.
fn content_id(raw: &str) -> String {
    let inner = raw.trim().trim_start_matches('<').trim_end_matches('>');
    inner.split('@').next().unwrap_or(inner).to_string()
}

/// A part's bytes by the literal rules: plain text is a literal (its final newline is the
/// one a literal file gets), JSON is parsed as a value, anything else is kept as bytes.
fn part_value(bytes: Vec<u8>, media_type: Option<String>) -> OutputValue {
    let essence = media_type.as_deref().map(media_essence);
    if essence.as_deref() == Some("text/plain") || essence.is_none() {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let text = text.strip_suffix('\n').unwrap_or(text);
            if !text.contains('\n') {
                return OutputValue::Literal(Value::String(text.to_string()));
            }
        }
    }
    if media_type.as_deref().is_some_and(is_json_media) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            return parse_value(&v);
        }
    }
    OutputValue::Data { bytes, media_type }
}

/// `attachment; filename="a.nc"` (or `filename*=UTF-8''a%20b.nc`) → the bare file name.
fn disposition_file_name(v: &str) -> Option<String> {
    let mut plain = None;
    for param in v.split(';').skip(1) {
        let (key, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = value.rsplit('\'').next().unwrap_or(value);
                return Some(crate::tree::naming::href_file_name(encoded))
                    .filter(|n| !n.is_empty());
            }
            "filename" => {
                plain = Some(
                    value
                        .rsplit(['/', '\\'])
                        .next()
                        .unwrap_or(value)
                        .to_string(),
                )
            }
            _ => {}
        }
    }
    plain.filter(|n| !n.is_empty())
}

/// `<a>; rel="x"; type="t", <b>; rel=y` → [(a, x, t), (b, y, None)].
fn parse_link_header(v: &str) -> Vec<(String, String, Option<String>)> {
    v.split(',')
        .filter_map(|link| {
            let mut params = link.split(';');
            let href = params
                .next()?
                .trim()
                .strip_prefix('<')?
                .strip_suffix('>')?
                .to_string();
            let (mut rel, mut media_type) = (String::new(), None);
            for p in params {
                if let Some((k, val)) = p.split_once('=') {
                    let val = val.trim().trim_matches('"').to_string();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "rel" => rel = val,
                        "type" => media_type = Some(val),
                        _ => {}
                    }
                }
            }
            // Links that describe the document, not an output.
            let about = ["profile", "self", "up", "describedby", "type"];
            (!about.contains(&rel.as_str())).then_some((href, rel, media_type))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    fn answer(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let url = Url::parse("http://h/api/jobs/j/results").unwrap();
        let mut a = Answer::new(url, StatusCode::from_u16(status).unwrap(), &map);
        a.body = a.needs_body().then(|| body.to_vec());
        a
    }

    async fn outputs(a: &Answer, declared: &[&str]) -> Vec<Output> {
        let declared: Vec<String> = declared.iter().map(|s| s.to_string()).collect();
        interpret(a, &declared).await.unwrap().0
    }

    #[tokio::test]
    async fn raw_bodies_are_named_by_disposition_then_output_then_result() {
        let a = answer(200, &[("content-type", "text/plain")], b"");
        let o = outputs(&a, &["greeting"]).await;
        assert_eq!(o[0].id, "greeting");
        assert_eq!(
            o[0].value,
            OutputValue::File(FileRef {
                href: "http://h/api/jobs/j/results".into(),
                media_type: Some("text/plain".into()),
                digest: None,
                length: None,
            })
        );
        assert_eq!(outputs(&a, &["a", "b"]).await[0].id, "result");
        assert_eq!(outputs(&a, &[]).await[0].id, "result");
        let a = answer(
            200,
            &[
                ("content-type", "image/png"),
                ("content-disposition", "attachment; filename=\"../map.png\""),
            ],
            b"",
        );
        assert_eq!(outputs(&a, &["x"]).await[0].id, "map.png");
        let a = answer(
            200,
            &[("content-disposition", "inline; filename*=UTF-8''a%20b.nc")],
            b"",
        );
        assert_eq!(outputs(&a, &[]).await[0].id, "a b.nc");
    }

    #[tokio::test]
    async fn multipart_parts_by_content_id() {
        let body = b"--b\r\nContent-Type: text/plain\r\nContent-ID: <message@job>\r\n\r\n3 rows\n\r\n\
--b\r\nContent-Type: application/json\r\nContent-ID: <count>\r\n\r\n3\r\n\
--b\r\nContent-Type: application/json\r\nContent-ID: <ref>\r\n\r\n{\"href\": \"/files/t.csv\", \"type\": \"text/csv\"}\r\n\
--b\r\nContent-Type: image/png\r\nContent-ID: <img>\r\nContent-Location: ../img.png\r\n\r\n\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-ID: <bin>\r\n\r\n\x00\x01\r\n--b--\r\n";
        let a = answer(
            200,
            &[("content-type", "multipart/related; boundary=\"b\"")],
            body,
        );
        let o = outputs(&a, &[]).await;
        let ids: Vec<_> = o.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["message", "count", "ref", "img", "bin"]);
        assert_eq!(o[0].value, OutputValue::Literal(json!("3 rows")));
        assert_eq!(o[1].value, OutputValue::Literal(json!(3)));
        let OutputValue::File(f) = &o[2].value else {
            panic!("{:?}", o[2])
        };
        assert_eq!(
            f.href, "/files/t.csv",
            "resolved by the caller, with the others"
        );
        let OutputValue::File(f) = &o[3].value else {
            panic!()
        };
        assert_eq!(f.href, "http://h/api/jobs/img.png");
        assert_eq!(
            o[4].value,
            OutputValue::Data {
                bytes: vec![0, 1],
                media_type: Some("application/octet-stream".into())
            }
        );
    }

    #[tokio::test]
    async fn json_bodies_documents_or_values() {
        let ct = [("content-type", "application/json")];
        // pygeoapi's document form.
        let a = answer(
            200,
            &ct,
            br#"{"outputs": [{"id": "echo", "value": "Hello"}]}"#,
        );
        let o = outputs(&a, &["echo"]).await;
        assert_eq!(o[0].id, "echo");
        assert_eq!(o[0].value, OutputValue::Literal(json!("Hello")));
        // A mapping of the declared outputs.
        let a = answer(200, &ct, br#"{"count": 3, "message": "m"}"#);
        assert_eq!(outputs(&a, &["count", "message", "x"]).await.len(), 2);
        // A value: kept as served, named by the single output.
        let body = br#"{"n": 3, "ok": true}"#;
        let a = answer(200, &ct, body);
        let (o, doc) = interpret(&a, &["summary".into()]).await.unwrap();
        assert_eq!(o[0].id, "summary");
        assert_eq!(
            o[0].value,
            OutputValue::Data {
                bytes: body.to_vec(),
                media_type: Some("application/json".into())
            }
        );
        assert_eq!(doc.as_deref(), Some(&body[..]));
        let a = answer(200, &ct, b"[0, 1, 2]");
        assert_eq!(outputs(&a, &["values"]).await[0].id, "values");
        let a = answer(200, &ct, br#"{"outputs": ["Hello"]}"#);
        assert_eq!(outputs(&a, &["greeting"]).await[0].id, "greeting");
    }

    #[tokio::test]
    async fn no_content_with_links_and_errors() {
        let a = answer(
            204,
            &[(
                "link",
                "</files/data-1.bin>; rel=\"alternate\"; type=\"application/octet-stream\"",
            )],
            b"",
        );
        let o = outputs(&a, &["data"]).await;
        assert_eq!(o[0].id, "data");
        assert_eq!(
            o[0].value,
            OutputValue::File(FileRef {
                href: "http://h/files/data-1.bin".into(),
                media_type: Some("application/octet-stream".into()),
                digest: None,
                length: None,
            })
        );
        let a = answer(
            500,
            &[("content-type", "application/json")],
            br#"{"title": "Job Failed", "detail": "boom"}"#,
        );
        let e = interpret(&a, &[]).await.unwrap_err();
        assert!(
            e.contains("http://h/api/jobs/j/results answered 500") && e.contains("boom"),
            "{e}"
        );
    }

    #[test]
    fn links_resolve_or_are_dropped() {
        let base = Url::parse("http://h/a/jobs/j/results").unwrap();
        assert_eq!(
            resolve(&base, "../../static/x.css").unwrap().as_str(),
            "http://h/a/static/x.css"
        );
        assert_eq!(
            resolve(&base, "/jobs?offset=3").unwrap().as_str(),
            "http://h/jobs?offset=3"
        );
        assert!(resolve(&base, "file:///etc/passwd").is_none());
        assert!(resolve(&base, "http://[::1").is_none());
    }
}
