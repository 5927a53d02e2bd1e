//! How job outputs become directory entries (the tree contract in the README).

use bytes::Bytes;
use serde_json::Value;

use super::naming::{
    extension_for_media_type, href_file_name, href_output_name, with_extension, UniqueNames,
};
use super::{ChildSpec, Content, JOB_META_DIR};
use crate::api::{FileRef, Output, OutputValue};

/// The entries of a successful job's directory, besides `.job/`. Unsafe or colliding names
/// are changed (and logged, naming `job`).
pub fn output_entries(job: &str, outputs: &[Output], plain_names: bool) -> Vec<ChildSpec> {
    let mut names = UniqueNames::reserving(&[JOB_META_DIR]);
    let place = format!("job {job}");
    outputs
        .iter()
        .map(|o| {
            let (wanted, content) = entry_of(&place, &o.id, &o.value, plain_names, true);
            ChildSpec::new(names.claim_in(&wanted, &place), content)
                .with_size_hint(length(&o.value))
        })
        .collect()
}

/// The size announced for a file value.
fn length(value: &OutputValue) -> Option<u64> {
    match value {
        OutputValue::File(f) if !f.is_dir() => f.length,
        _ => None,
    }
}

/// The name and content of one value. `top` values are named by their output id; array items
/// by their file name (or their index).
fn entry_of(
    place: &str,
    id: &str,
    value: &OutputValue,
    plain: bool,
    top: bool,
) -> (String, Content) {
    let ext = |e: Option<&str>| {
        if plain {
            id.to_string()
        } else {
            with_extension(id, e)
        }
    };
    match value {
        OutputValue::Literal(v) => (id.to_string(), Content::Inline(render_literal(v))),
        OutputValue::Json(v) => (ext(Some("json")), Content::Inline(render_json(v))),
        OutputValue::Data { bytes, media_type } => (
            ext(media_type.as_deref().and_then(extension_for_media_type)),
            Content::Inline(Bytes::from(bytes.clone())),
        ),
        OutputValue::Lines(lines) => {
            let mut text = lines.join("\n");
            text.push('\n');
            (id.to_string(), Content::Inline(Bytes::from(text)))
        }
        OutputValue::Items(items) => (
            id.to_string(),
            Content::Static(item_entries(&format!("{place}, output {id:?}"), items, plain).into()),
        ),
        OutputValue::File(f) if f.is_dir() => {
            let name = if top {
                id.to_string()
            } else {
                dir_name(f).unwrap_or_else(|| id.to_string())
            };
            (name, Content::RemoteDir(f.href.as_str().into()))
        }
        OutputValue::File(f) => {
            let name = if top {
                href_output_name(id, &f.href, f.media_type.as_deref(), plain)
            } else {
                let file_name = href_file_name(&f.href);
                if file_name.is_empty() {
                    href_output_name(id, &f.href, f.media_type.as_deref(), plain)
                } else {
                    file_name
                }
            };
            (name, Content::Remote(f.href.as_str().into()))
        }
    }
}

/// The entries of an array holding files: named by their file names, unique on collision.
fn item_entries(place: &str, items: &[OutputValue], plain: bool) -> Vec<ChildSpec> {
    let mut names = UniqueNames::default();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let (wanted, content) = entry_of(place, &i.to_string(), item, plain, false);
            ChildSpec::new(names.claim_in(&wanted, &place), content).with_size_hint(length(item))
        })
        .collect()
}

/// `https://h/a/sub/` → `sub`.
fn dir_name(f: &FileRef) -> Option<String> {
    let trimmed = f.href.trim_end_matches('/');
    let name = href_file_name(trimmed);
    (!name.is_empty()).then_some(name)
}

/// Strings as text, numbers, booleans and null as their JSON text; a newline after each.
pub fn render_literal(v: &Value) -> Bytes {
    let mut text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.push('\n');
    Bytes::from(text)
}

fn render_json(v: &Value) -> Bytes {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    text.push('\n');
    Bytes::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::results::parse_results;
    use serde_json::json;

    fn entries(doc: Value, plain: bool) -> Vec<ChildSpec> {
        output_entries("j", &parse_results(&doc).unwrap(), plain)
    }

    fn inline(e: &ChildSpec) -> &[u8] {
        match &e.content {
            Content::Inline(b) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn literals_and_files() {
        let es = entries(
            json!({
                "count": 42, "message": "hello", "flag": false,
                "config": {"value": {"a": 1}, "mediaType": "application/json"},
                "table": {"value": "YSxi", "mediaType": "text/csv", "encoding": "base64"},
                "ints": [1, 2],
                "output_netcdf": {"href": "https://h/j/output_netcdf/sample.nc", "type": "application/x-netcdf"},
            }),
            false,
        );
        let by = |n: &str| {
            es.iter()
                .find(|e| e.name == n)
                .unwrap_or_else(|| panic!("no {n}"))
        };
        assert_eq!(inline(by("count")), b"42\n");
        assert_eq!(inline(by("message")), b"hello\n");
        assert_eq!(inline(by("flag")), b"false\n");
        assert_eq!(inline(by("config.json")), b"{\n  \"a\": 1\n}\n");
        assert_eq!(inline(by("table.csv")), b"a,b");
        assert_eq!(inline(by("ints")), b"1\n2\n");
        assert!(matches!(by("output_netcdf.nc").content, Content::Remote(_)));
    }

    #[test]
    fn plain_names_keep_ids() {
        let es = entries(
            json!({"o": {"href": "https://h/x.nc"}, "c": {"value": {}, "mediaType": "application/json"}}),
            true,
        );
        let mut names: Vec<_> = es.iter().map(|e| e.name.as_str()).collect();
        names.sort();
        assert_eq!(names, vec!["c", "o"]);
    }

    #[test]
    fn arrays_of_files_are_directories_with_unique_names() {
        let es = entries(
            json!({"files": [{"href": "https://h/files/a.json"}, {"href": "https://h/files/b.json"},
                             {"href": "https://h/files/sub/a.json"}, {"href": "https://h/files/d/"}, 7]}),
            false,
        );
        let Content::Static(items) = &es[0].content else {
            panic!()
        };
        let names: Vec<_> = items.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["a.json", "b.json", "a-2.json", "d", "4"]);
        assert!(matches!(items[3].content, Content::RemoteDir(_)));
    }

    #[test]
    fn hostile_ids_stay_inside_the_job_directory() {
        let es = entries(
            json!({"../../etc/passwd": 1, ".job": 2, "..": 3, "a\u{0}b": 4}),
            false,
        );
        for e in &es {
            assert!(!e.name.contains('/') && e.name != ".." && e.name != "." && e.name != ".job");
        }
        assert_eq!(es.len(), 4);
    }
}
