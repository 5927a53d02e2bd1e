//! Weaver's `GET /jobs/{id}/statistics`: the sizes of a job's single-file outputs in one
//! request (`outputs.{id}.sizeBytes`), so a listing needs no probe per file for them.
//!
//! Only servers that may have it are asked: the first answer tells which kind this one is
//! (a document, or Weaver's `NoJobStatistics` 404: keep asking; any other 404, 405 or 501:
//! this server has no statistics, never ask again). A statistics document never breaks a
//! job: whatever is odd about it, the job's files are probed as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::Value;

use super::results::{Output, OutputValue};

/// What is known of the server's `/statistics`.
#[derive(Debug, Default)]
pub struct Support(AtomicU8);

const UNKNOWN: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT: u8 = 2;

impl Support {
    /// Whether asking may give sizes.
    pub fn worth_asking(&self) -> bool {
        self.0.load(Ordering::Relaxed) != ABSENT
    }

    /// Learns from an answer's status and body which kind of server this is.
    pub fn learn(&self, status: u16, body: &[u8]) {
        let known = match status {
            200..=299 => PRESENT,
            404 if is_no_job_statistics(body) => PRESENT,
            404 | 405 | 501 => ABSENT,
            _ => return,
        };
        // A server once seen to have statistics keeps them (a proxy's odd 404 changes nothing).
        let _ = self
            .0
            .compare_exchange(UNKNOWN, known, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Weaver's answer for a job whose statistics are not (yet) collected.
fn is_no_job_statistics(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| {
        ["code", "title", "type"]
            .iter()
            .any(|k| v.get(k).and_then(Value::as_str) == Some("NoJobStatistics"))
    })
}

/// `outputs.{id}.sizeBytes` of a statistics document; outputs without it are left out.
pub fn output_sizes(body: &[u8]) -> HashMap<String, u64> {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return HashMap::new();
    };
    let Some(outputs) = doc.get("outputs").and_then(Value::as_object) else {
        return HashMap::new();
    };
    outputs
        .iter()
        .filter_map(|(id, o)| Some((id.clone(), o.get("sizeBytes")?.as_u64()?)))
        .collect()
}

/// Gives each single-file output its size from `sizes` where no link `length` gave one.
pub fn apply(outputs: &mut [Output], sizes: &HashMap<String, u64>) {
    for o in outputs {
        if let (OutputValue::File(f), Some(&n)) = (&mut o.value, sizes.get(&o.id)) {
            if !f.is_dir() && f.length.is_none() {
                f.length = Some(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::FileRef;

    #[test]
    fn sizes_of_single_file_outputs_only() {
        let body = br#"{"application": {"usedMemoryBytes": 3},
            "outputs": {"a": {"size": "3.000 B", "sizeBytes": 3}, "b": {"size": "?"},
                        "c": {"sizeBytes": -1}, "d": {"sizeBytes": 7}}}"#;
        let sizes = output_sizes(body);
        assert_eq!(sizes, HashMap::from([("a".into(), 3), ("d".into(), 7)]));
        assert!(output_sizes(b"not json").is_empty());
        assert!(output_sizes(br#"{"outputs": ["x"]}"#).is_empty());
        let file = |href: &str, length| {
            OutputValue::File(FileRef {
                href: href.into(),
                media_type: None,
                digest: None,
                length,
            })
        };
        let mut outputs = vec![
            Output {
                id: "a".into(),
                value: file("http://h/a.txt", None),
            },
            Output {
                id: "d".into(),
                value: file("http://h/d/", None),
            },
        ];
        apply(&mut outputs, &sizes);
        assert_eq!(outputs[0].value, file("http://h/a.txt", Some(3)));
        assert_eq!(outputs[1].value, file("http://h/d/", None), "a directory");
        // A link's own length is kept.
        let mut linked = vec![Output {
            id: "a".into(),
            value: file("http://h/a.txt", Some(9)),
        }];
        apply(&mut linked, &sizes);
        assert_eq!(linked[0].value, file("http://h/a.txt", Some(9)));
    }

    #[test]
    fn which_servers_are_asked_again() {
        let weaver = Support::default();
        weaver.learn(404, br#"{"code": "NoJobStatistics"}"#);
        weaver.learn(404, b"<html>not found</html>");
        assert!(weaver.worth_asking());
        let other = Support::default();
        other.learn(503, b"");
        assert!(other.worth_asking(), "a passing failure tells nothing");
        other.learn(404, b"<html>not found</html>");
        assert!(!other.worth_asking());
        let old = Support::default();
        old.learn(405, b"");
        assert!(!old.worth_asking());
    }
}
