//! `digestMultibase` of file outputs, as Weaver ≥ 6.12 computes it
//! (`utils.py::compute_file_digest_multibase`): the sha2-256 multihash of the
//! file, multibase base64 (`m`, no padding). Off unless a test asks, since it
//! reads every file of the job; `Wrong` gives the digest of other bytes.

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::render::Urls;
use super::state::{JobView, Shared};

/// Whether results carry `digestMultibase`, and whether it is right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Digests {
    #[default]
    Off,
    Correct,
    Wrong,
}

/// Pieces hashed at a time, so a large file never sits in memory.
const CHUNK: u64 = 4 << 20;

/// Adds `digestMultibase` to every file reference of `doc` that names a file of the job.
pub(crate) fn add(shared: &Shared, view: &JobView, urls: &Urls, doc: &mut Value) {
    let mode = shared.digests();
    if mode == Digests::Off {
        return;
    }
    let prefix = format!("{}/{}/", urls.files, view.def.id);
    walk(doc, &mut |obj| {
        let Some(path) = obj
            .get("href")
            .and_then(Value::as_str)
            .and_then(|h| h.strip_prefix(&prefix))
        else {
            return;
        };
        let Some(file) = view.def.file(path) else {
            return;
        };
        let version = shared.file_version(&format!("{}/{}", view.def.id, file.path));
        let mut hash = Sha256::new();
        let len = file.source.len();
        let mut at = 0;
        while at < len {
            hash.update(file.source.read(version, at, (at + CHUNK).min(len)));
            at += CHUNK;
        }
        if mode == Digests::Wrong {
            hash.update(b"not these bytes");
        }
        obj.insert(
            "digestMultibase".into(),
            Value::String(multibase(&hash.finalize())),
        );
    });
}

fn walk(v: &mut Value, f: &mut impl FnMut(&mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(obj) => {
            f(obj);
            obj.values_mut().for_each(|v| walk(v, f));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, f)),
        _ => {}
    }
}

/// `m` + base64 (no padding) of the sha2-256 multihash (code 0x12, 32 bytes).
pub(crate) fn multibase(sha256: &[u8]) -> String {
    let mut mh = vec![0x12, 32];
    mh.extend_from_slice(sha256);
    format!(
        "m{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(mh)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn weaver_form_of_the_empty_file() {
        // sha2-256("") = e3b0c442...; its multihash in base64 starts "EiDjsMRC".
        let d = <sha2::Sha256 as sha2::Digest>::digest(b"");
        let text = super::multibase(&d);
        assert!(text.starts_with("mEiDjsMRC"), "{text}");
        assert!(!text.ends_with('='));
    }
}
