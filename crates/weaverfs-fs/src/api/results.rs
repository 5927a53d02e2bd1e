//! Job results in every shape servers send, parsed into one model.
//!
//! Shapes handled (see shared/reference/weaver-api.md §5): the OGC results document (outputs at
//! the root, literals bare or qualified), the `/outputs` mapping `{"outputs": {...}, "links": []}`,
//! the OLD list form `[{"id", "href"|"data"|"value", ...}]` with repeated ids for arrays,
//! `{href, type | format}` references, bounding boxes, arrays of literals and arrays of files.

use base64::Engine;
use serde_json::{Map, Value};

/// One output of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub id: String,
    pub value: OutputValue,
}

/// The value of an output, by how it is shown in the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputValue {
    /// A string, number, boolean or null: a text file holding the value and a newline.
    Literal(Value),
    /// A JSON object, array or bounding box: `OUTPUT.json`.
    Json(Value),
    /// A qualified value, decoded (base64 too): named by its media type.
    Data {
        bytes: Vec<u8>,
        media_type: Option<String>,
    },
    /// A file (or a directory, when the href ends with `/`) served by reference.
    File(FileRef),
    /// An array of literals: one text file, a value per line.
    Lines(Vec<String>),
    /// An array holding files: a directory of its items.
    Items(Vec<OutputValue>),
}

/// A reference to a file on a file host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub href: String,
    pub media_type: Option<String>,
    /// `digestMultibase` (Weaver ≥ 6.12), checked when the file is read whole.
    pub digest: Option<String>,
    /// The size the server announced, not yet confirmed by the file host: a link's `length`
    /// (OGC API - Common) or Weaver's `/statistics` `sizeBytes`. A hint until the file's first
    /// answer (`docs/read-path.md`, "Sizes").
    pub length: Option<u64>,
}

impl FileRef {
    /// A directory output: an href ending in `/`, or the `application/directory` media type.
    pub fn is_dir(&self) -> bool {
        self.href.ends_with('/')
            || self
                .media_type
                .as_deref()
                .is_some_and(|m| media_essence(m) == "application/directory")
    }
}

/// The media type without parameters, lower case (`application/json; profile=x` → `application/json`).
pub fn media_essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `application/json`, `application/json; profile=...`, `application/ld+json`...
pub fn is_json_media(content_type: &str) -> bool {
    let essence = media_essence(content_type);
    essence == "application/json" || essence.ends_with("+json")
}

/// Parses the body of `/outputs` (`{"outputs": mapping | list, "links": [...]}`).
pub fn parse_outputs_response(doc: &Value) -> Result<Vec<Output>, String> {
    match doc.as_object().and_then(unwrap_outputs) {
        Some(inner) => parse_results(inner),
        None => parse_results(doc),
    }
}

/// Parses a results document (outputs at the root) or the OLD list form. Unknown value shapes
/// become JSON files; only a body that is not a JSON object or array at all is an error.
pub fn parse_results(doc: &Value) -> Result<Vec<Output>, String> {
    match doc {
        Value::Object(map) => Ok(map
            .iter()
            .filter(|(k, v)| !(k.as_str() == "links" && is_links_array(v)))
            .filter(|(k, _)| !k.starts_with('$'))
            .map(|(id, v)| Output {
                id: id.clone(),
                value: parse_value(v),
            })
            .collect()),
        Value::Array(items) => parse_old_list(items),
        _ => Err("results are neither a JSON object nor a list".into()),
    }
}

/// `{"outputs": {...} | [...], "links": [...]}` as served by `/outputs`: the inner outputs.
fn unwrap_outputs(map: &Map<String, Value>) -> Option<&Value> {
    let inner = map.get("outputs")?;
    let only_wrapper_keys = map
        .iter()
        .all(|(k, v)| k == "outputs" || (k == "links" && is_links_array(v)) || k.starts_with('$'));
    (only_wrapper_keys && (inner.is_object() || inner.is_array())).then_some(inner)
}

fn is_links_array(v: &Value) -> bool {
    v.as_array().is_some_and(|links| {
        links
            .iter()
            .all(|l| l.get("href").is_some() && l.get("rel").is_some())
    })
}

/// The OLD list form: `[{"id": "a", ...}, {"id": "b", ...}, {"id": "b", ...}]`; a repeated id is
/// an array output, in the order given.
fn parse_old_list(items: &[Value]) -> Result<Vec<Output>, String> {
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    for item in items {
        let Some(obj) = item.as_object() else {
            return Err("a list of outputs holds something other than objects".into());
        };
        let Some(id) = obj.get("id").and_then(Value::as_str) else {
            return Err("an output in the list has no id".into());
        };
        let mut rest = obj.clone();
        rest.remove("id");
        let rest = Value::Object(rest);
        match grouped.iter_mut().find(|(g, _)| g == id) {
            Some((_, values)) => values.push(rest),
            None => grouped.push((id.to_string(), vec![rest])),
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(id, mut values)| {
            let value = if values.len() == 1 {
                parse_value(&values.remove(0))
            } else {
                parse_value(&Value::Array(values))
            };
            Output { id, value }
        })
        .collect())
}

/// Parses one output value.
pub fn parse_value(v: &Value) -> OutputValue {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            OutputValue::Literal(v.clone())
        }
        Value::Array(items) => parse_array(v, items),
        Value::Object(obj) => parse_object(v, obj),
    }
}

fn parse_object(v: &Value, obj: &Map<String, Value>) -> OutputValue {
    if let Some(href) = obj.get("href").and_then(Value::as_str) {
        return OutputValue::File(FileRef {
            href: href.to_string(),
            media_type: media_type_of(obj),
            digest: obj
                .get("digestMultibase")
                .and_then(Value::as_str)
                .map(str::to_string),
            length: obj.get("length").and_then(Value::as_u64),
        });
    }
    if obj.contains_key("bbox") {
        return OutputValue::Json(v.clone());
    }
    let Some(inner) = obj.get("value").or_else(|| obj.get("data")) else {
        return OutputValue::Json(v.clone());
    };
    let media_type = media_type_of(obj);
    let encoding = obj
        .get("encoding")
        .or_else(|| obj.get("format").and_then(|f| f.get("encoding")))
        .and_then(Value::as_str);
    match inner {
        // A JSON media type says the value is the JSON itself: a string stays a JSON string.
        Value::String(s)
            if encoding.is_none() && media_type.as_deref().is_some_and(is_json_media) =>
        {
            OutputValue::Json(Value::String(s.clone()))
        }
        Value::String(s) => {
            let plain = media_type
                .as_deref()
                .is_none_or(|m| media_essence(m) == "text/plain");
            if encoding.is_none() && plain {
                return OutputValue::Literal(inner.clone());
            }
            let bytes = match encoding.map(str::to_ascii_lowercase).as_deref() {
                Some("base64") => match decode_base64(s) {
                    Some(b) => b,
                    None => {
                        tracing::warn!(
                            "an output value claims base64 but does not decode; shown as text"
                        );
                        s.as_bytes().to_vec()
                    }
                },
                _ => s.as_bytes().to_vec(),
            };
            OutputValue::Data { bytes, media_type }
        }
        Value::Array(_) => parse_value(inner),
        Value::Object(_) => OutputValue::Json(inner.clone()),
        _ => OutputValue::Literal(inner.clone()),
    }
}

fn parse_array(v: &Value, items: &[Value]) -> OutputValue {
    let parsed: Vec<OutputValue> = items.iter().map(parse_value).collect();
    if parsed.iter().any(|p| matches!(p, OutputValue::File(_))) {
        return OutputValue::Items(parsed);
    }
    let lines: Option<Vec<String>> = parsed.iter().map(line_of).collect();
    match lines {
        Some(lines) => OutputValue::Lines(lines),
        None => OutputValue::Json(v.clone()),
    }
}

/// The text of a literal array item on its line; None for items that are not one-line text.
fn line_of(item: &OutputValue) -> Option<String> {
    match item {
        OutputValue::Literal(Value::String(s)) => Some(s.clone()),
        OutputValue::Literal(other) => Some(other.to_string()),
        OutputValue::Data { bytes, .. } => String::from_utf8(bytes.clone()).ok(),
        _ => None,
    }
    .filter(|line| !line.contains('\n'))
}

/// `type`, `mediaType`, `format.mediaType` or `format.mimeType`, whichever is given.
fn media_type_of(obj: &Map<String, Value>) -> Option<String> {
    let format = obj.get("format");
    [
        obj.get("mediaType"),
        obj.get("type"),
        format.and_then(|f| f.get("mediaType")),
        format.and_then(|f| f.get("mimeType")),
    ]
    .into_iter()
    .flatten()
    .find_map(Value::as_str)
    .map(str::to_string)
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    engines.iter().find_map(|e| e.decode(&compact).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(doc: Value) -> Vec<Output> {
        parse_results(&doc).unwrap()
    }

    fn value_of(outputs: &[Output], id: &str) -> OutputValue {
        outputs.iter().find(|o| o.id == id).unwrap().value.clone()
    }

    fn file(href: &str, media: &str) -> OutputValue {
        OutputValue::File(FileRef {
            href: href.into(),
            media_type: Some(media.into()),
            digest: None,
            length: None,
        })
    }

    #[test]
    fn results_document_every_shape() {
        let doc = json!({
          "output_data": "test",
          "output_json": {"href": "https://h/w/j/output_json/result.json", "type": "application/json"},
          "number_out": 2.5,
          "flag": true,
          "json_inline": {"value": {"data": "test"}, "mediaType": "application/json"},
          "bboxOutput": {"bbox": [1, 2, 3, 4], "crs": "CRS84"},
          "files": [{"href": "https://h/a.json", "type": "application/json"},
                    {"href": "https://h/b.json", "type": "application/json"}],
          "ints": [1, 2, 3],
          "mixed": [{"value": "1", "mediaType": "text/plain"}, {"value": "2", "mediaType": "text/special"}],
          "b64": {"value": "YSxiCjEsMgo=", "mediaType": "text/csv", "encoding": "base64"},
          "dir": {"href": "https://h/w/j/dir/", "type": "application/directory"}
        });
        let out = parse(doc);
        assert_eq!(out.len(), 11);
        assert_eq!(
            value_of(&out, "output_data"),
            OutputValue::Literal(json!("test"))
        );
        assert_eq!(
            value_of(&out, "output_json"),
            file("https://h/w/j/output_json/result.json", "application/json")
        );
        assert_eq!(
            value_of(&out, "number_out"),
            OutputValue::Literal(json!(2.5))
        );
        assert_eq!(value_of(&out, "flag"), OutputValue::Literal(json!(true)));
        assert_eq!(
            value_of(&out, "json_inline"),
            OutputValue::Json(json!({"data": "test"}))
        );
        assert!(matches!(value_of(&out, "bboxOutput"), OutputValue::Json(_)));
        assert_eq!(
            value_of(&out, "files"),
            OutputValue::Items(vec![
                file("https://h/a.json", "application/json"),
                file("https://h/b.json", "application/json")
            ])
        );
        assert_eq!(
            value_of(&out, "ints"),
            OutputValue::Lines(vec!["1".into(), "2".into(), "3".into()])
        );
        assert_eq!(
            value_of(&out, "mixed"),
            OutputValue::Lines(vec!["1".into(), "2".into()])
        );
        assert_eq!(
            value_of(&out, "b64"),
            OutputValue::Data {
                bytes: b"a,b\n1,2\n".to_vec(),
                media_type: Some("text/csv".into())
            }
        );
        match value_of(&out, "dir") {
            OutputValue::File(f) => assert!(f.is_dir()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outputs_mapping_is_unwrapped_and_links_dropped() {
        let doc = json!({"outputs": {
            "output_json": {"href": "https://h/r.json", "type": "application/json",
                            "format": {"mediaType": "application/json"}},
            "output_data": {"value": "test"}},
          "links": [{"href": "https://h/jobs/1", "rel": "up"}]});
        let out = parse_outputs_response(&doc).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            value_of(&out, "output_data"),
            OutputValue::Literal(json!("test"))
        );
    }

    #[test]
    fn an_output_named_outputs_is_kept() {
        let out = parse(json!({"outputs": "a literal", "other": 1}));
        assert_eq!(
            value_of(&out, "outputs"),
            OutputValue::Literal(json!("a literal"))
        );
    }

    #[test]
    fn old_list_with_repeated_ids() {
        let doc = json!({"outputs": [
            {"id": "text", "data": "old style"},
            {"id": "parts", "href": "https://h/p1.txt", "format": {"mimeType": "text/plain"}},
            {"id": "parts", "href": "https://h/p2.txt", "format": {"mimeType": "text/plain"}}
        ], "links": []});
        let out = parse_outputs_response(&doc).unwrap();
        assert_eq!(out[0].id, "text");
        assert_eq!(out[0].value, OutputValue::Literal(json!("old style")));
        assert_eq!(
            out[1].value,
            OutputValue::Items(vec![
                file("https://h/p1.txt", "text/plain"),
                file("https://h/p2.txt", "text/plain")
            ])
        );
    }

    #[test]
    fn a_json_string_value_stays_json() {
        let out = parse(json!({"mode": {"value": "sync", "mediaType": "application/json"}}));
        assert_eq!(value_of(&out, "mode"), OutputValue::Json(json!("sync")));
    }

    #[test]
    fn wrapped_literals_match_bare_ones() {
        let out =
            parse(json!({"a": {"value": 42}, "b": {"value": "x", "mediaType": "text/plain"}}));
        assert_eq!(value_of(&out, "a"), OutputValue::Literal(json!(42)));
        assert_eq!(value_of(&out, "b"), OutputValue::Literal(json!("x")));
    }

    #[test]
    fn arrays_of_objects_are_json_and_bad_base64_is_text() {
        let out = parse(
            json!({"objs": [{"a": 1}], "bad": {"value": "@@", "encoding": "base64", "mediaType": "image/png"}}),
        );
        assert!(matches!(value_of(&out, "objs"), OutputValue::Json(_)));
        assert_eq!(
            value_of(&out, "bad"),
            OutputValue::Data {
                bytes: b"@@".to_vec(),
                media_type: Some("image/png".into())
            }
        );
    }

    #[test]
    fn non_documents_are_errors() {
        assert!(parse_results(&json!("text")).is_err());
        assert!(parse_results(&json!([1, 2])).is_err());
        assert!(parse_results(&json!([{"noid": 1}])).is_err());
    }

    proptest::proptest! {
        /// Any JSON document parses without panicking, and every mapping key becomes one output.
        #[test]
        fn any_mapping_parses(keys in proptest::collection::btree_set("[a-z_]{1,8}", 0..8), n in 0i64..1000) {
            let mut map = Map::new();
            for (i, k) in keys.iter().enumerate() {
                let v = match i % 4 {
                    0 => json!(n),
                    1 => json!({"href": format!("https://h/{k}.nc")}),
                    2 => json!([n, n + 1]),
                    _ => json!({"value": k, "mediaType": "text/csv"}),
                };
                map.insert(k.clone(), v);
            }
            let expected = keys.iter().filter(|k| *k != "outputs" && *k != "links").count();
            let out = parse_results(&Value::Object(map)).unwrap();
            proptest::prop_assert!(out.len() >= expected);
        }
    }
}
