//! The job status document (`GET /jobs/{id}`), across Weaver versions.

use std::time::SystemTime;

use serde_json::Value;

/// A job's state, normalised over the values servers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Created,
    Accepted,
    Running,
    /// `successful` (Weaver >= 6.2, OGC) or `succeeded` (Weaver <= 6.1).
    Successful,
    Failed,
    Dismissed,
    Unknown,
}

impl JobState {
    pub fn parse(s: &str) -> JobState {
        match s.to_ascii_lowercase().as_str() {
            "created" => JobState::Created,
            "accepted" | "queued" => JobState::Accepted,
            "running" | "started" | "paused" => JobState::Running,
            "successful" | "succeeded" | "finished" => JobState::Successful,
            "failed" | "error" | "exception" => JobState::Failed,
            "dismissed" | "canceled" | "cancelled" => JobState::Dismissed,
            _ => JobState::Unknown,
        }
    }

    /// The state's name, as `.job/state` and `@status/` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Created => "created",
            JobState::Accepted => "accepted",
            JobState::Running => "running",
            JobState::Successful => "successful",
            JobState::Failed => "failed",
            JobState::Dismissed => "dismissed",
            JobState::Unknown => "unknown",
        }
    }

    /// A terminal job changes no more (except for a later dismissal).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Successful | JobState::Failed | JobState::Dismissed
        )
    }
}

/// What the filesystem needs of a status document, plus the document itself.
#[derive(Debug, Clone)]
pub struct JobStatus {
    pub id: String,
    pub state: JobState,
    /// `finished`, else `updated`, else `created`: the job directory's mtime.
    pub mtime: Option<SystemTime>,
    /// `processID` (OGC) or `process` (older Weaver): names outputs by its declared ids.
    pub process_id: Option<String>,
    /// The body as served, for `.job/status.json`.
    pub raw: Vec<u8>,
}

impl JobStatus {
    pub fn parse(body: &[u8]) -> Result<JobStatus, String> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|e| format!("status is not JSON: {e}"))?;
        let id = doc
            .get("jobID")
            .or_else(|| doc.get("id"))
            .and_then(Value::as_str)
            .ok_or("status has no jobID")?
            .to_string();
        let state = JobState::parse(doc.get("status").and_then(Value::as_str).unwrap_or(""));
        let mtime = ["finished", "updated", "created"]
            .iter()
            .find_map(|k| doc.get(*k).and_then(Value::as_str).and_then(parse_time));
        let process_id = ["processID", "process"]
            .iter()
            .find_map(|k| doc.get(*k).and_then(Value::as_str))
            .map(str::to_string);
        Ok(JobStatus {
            id,
            state,
            mtime,
            process_id,
            raw: body.to_vec(),
        })
    }
}

/// Parses an RFC 3339 time (`2024-10-02T14:21:23.629000+00:00`, `...Z`).
pub fn parse_time(s: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::from(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_success_values_are_success() {
        assert_eq!(JobState::parse("successful"), JobState::Successful);
        assert_eq!(JobState::parse("succeeded"), JobState::Successful);
        assert_eq!(JobState::parse("Running"), JobState::Running);
        assert_eq!(JobState::parse("dismissed"), JobState::Dismissed);
        assert_eq!(JobState::parse("created"), JobState::Created);
        assert_eq!(JobState::parse("bogus"), JobState::Unknown);
    }

    #[test]
    fn status_document_fields() {
        let body = br#"{"jobID":"a305ef3e-3220-4d43-b1be-301f5ef13c23","status":"successful",
            "created":"2024-10-02T14:21:12.380000+00:00","finished":"2024-10-02T14:21:23.629000+00:00",
            "updated":"2024-10-02T14:21:23.630000+00:00"}"#;
        let st = JobStatus::parse(body).unwrap();
        assert_eq!(st.id, "a305ef3e-3220-4d43-b1be-301f5ef13c23");
        assert_eq!(st.state, JobState::Successful);
        let secs = st
            .mtime
            .unwrap()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1727878883);
    }

    #[test]
    fn null_times_and_id_only() {
        let st = JobStatus::parse(br#"{"id":"x","status":"running","finished":null}"#).unwrap();
        assert_eq!(st.id, "x");
        assert!(st.mtime.is_none());
        assert!(JobStatus::parse(b"{").is_err());
        assert!(JobStatus::parse(br#"{"status":"running"}"#).is_err());
    }
}
