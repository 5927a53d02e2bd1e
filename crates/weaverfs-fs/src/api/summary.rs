//! One entry of the job listing: a bare id, or a status object (Weaver's `detail=true`, OGC
//! servers) whose process id, state and times give the views and the job directories' times
//! with no request per job. Parsed by a visitor that skips what it does not need (the ~15 links
//! of each Weaver status object are never built), so a page of 1,000 status objects costs little
//! memory.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::status::{parse_time, JobState};

/// What the listing says of one job. Times are microseconds since the Unix epoch. The id is
/// shared by the root entry, the inode table and the views; the process name is shared by all
/// the jobs of that process (see `list_all`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: Arc<str>,
    pub process: Option<Arc<str>>,
    /// None when the listing does not say (a bare id).
    pub state: Option<JobState>,
    pub created: Option<i64>,
    /// `finished`, else `updated`, else `created`: the job directory's mtime.
    pub time: Option<i64>,
}

impl Listed {
    pub fn bare(id: impl Into<Arc<str>>) -> Listed {
        Listed {
            id: id.into(),
            process: None,
            state: None,
            created: None,
            time: None,
        }
    }
}

/// A listing entry: `None` when it is not a job (a number, an object without a string id).
pub(super) struct Entry(pub Option<Listed>);

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor).map(Entry)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum Field {
    #[serde(rename = "jobID")]
    JobId,
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "processID")]
    ProcessId,
    #[serde(rename = "process")]
    Process,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "created")]
    Created,
    #[serde(rename = "finished")]
    Finished,
    #[serde(rename = "updated")]
    Updated,
    #[serde(other)]
    Other,
}

struct EntryVisitor;

fn micros(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Option<Listed>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a job id or a status object")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Listed::bare(v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut job_id, mut id, mut process_id, mut process) = (None, None, None, None);
        let (mut status, mut created, mut finished, mut updated) = (None, None, None, None);
        // Only a string counts; anything else in these fields is ignored, as the status parser does.
        let text = |v: Value| match v {
            Value::String(s) => Some(s),
            _ => None,
        };
        while let Some(key) = map.next_key::<Field>()? {
            let slot = match key {
                Field::JobId => &mut job_id,
                Field::Id => &mut id,
                Field::ProcessId => &mut process_id,
                Field::Process => &mut process,
                Field::Status => &mut status,
                Field::Created => &mut created,
                Field::Finished => &mut finished,
                Field::Updated => &mut updated,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = text(map.next_value::<Value>()?);
        }
        let Some(id) = job_id.or(id) else {
            return Ok(None);
        };
        let at = |s: &Option<String>| s.as_deref().and_then(parse_time).map(micros);
        let created_at = at(&created);
        Ok(Some(Listed {
            id: id.into(),
            process: process_id
                .or(process)
                .filter(|p| !p.is_empty())
                .map(Into::into),
            state: status.as_deref().map(JobState::parse),
            created: created_at,
            time: at(&finished).or(at(&updated)).or(created_at),
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Option<Listed> {
        serde_json::from_str::<Entry>(json).unwrap().0
    }

    #[test]
    fn status_objects_give_process_state_and_times() {
        let l = parse(
            r#"{"jobID":"a","processID":"subset","status":"succeeded","links":[{"href":"x"}],
                "created":"2026-11-30T10:00:00+00:00","finished":"2026-11-30T10:00:05.5+00:00"}"#,
        )
        .unwrap();
        assert_eq!(&*l.id, "a");
        assert_eq!(l.process.as_deref(), Some("subset"));
        assert_eq!(l.state, Some(JobState::Successful));
        assert_eq!(l.created, Some(1_796_032_800_000_000));
        assert_eq!(l.time, Some(1_796_032_805_500_000));
    }

    #[test]
    fn what_is_missing_stays_unknown() {
        assert_eq!(parse(r#""x""#), Some(Listed::bare("x")));
        let l = parse(r#"{"id":"y","status":7,"created":"not a time","process":null}"#).unwrap();
        assert_eq!(l, Listed::bare("y"));
        let l = parse(r#"{"id":"z","updated":"2026-11-30T10:00:00Z"}"#).unwrap();
        assert_eq!((l.created, l.time), (None, Some(1_796_032_800_000_000)));
        for not_a_job in [
            "3",
            "null",
            "true",
            "[1,[2]]",
            r#"{"nothing":1}"#,
            r#"{"id":4}"#,
        ] {
            assert_eq!(parse(not_a_job), None, "{not_a_job}");
        }
    }
}
