//! A workflow's steps, from the workflow job's log: Weaver logs each step it dispatches as
//! `[provider: HOST, step: NAME] - Monitoring job on remote ADES: [URL]` (6.15; older versions:
//! `HOST [NAME] - Monitoring job on remote ADES : URL`), and writes these lines to `/logs` when
//! the workflow ends. Nothing else names the step jobs: the status, results and links of the
//! workflow do not, and `/prov` names cwltool's runs, not Weaver's jobs.

use url::Url;

const MONITORING: &str = "Monitoring job on remote ADES";

/// A step as the log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step's name as logged (a counter suffix such as `first_3` kept).
    pub name: String,
    /// The step job's URL, without credentials, query or fragment.
    pub url: Url,
}

/// Where a step job lives, seen from the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepJob {
    /// A job of the mounted server: its id.
    Here(String),
    /// Another server's job.
    Elsewhere(Url),
}

/// The steps a log names, in its order; a step logged twice with the same URL once.
pub fn parse_steps(log: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in log.lines() {
        let Some(step) = parse_line(line) else {
            continue;
        };
        if !steps.contains(&step) {
            steps.push(step);
        }
    }
    steps
}

fn parse_line(line: &str) -> Option<Step> {
    let at = line.find(MONITORING)?;
    let (before, after) = (&line[..at], &line[at + MONITORING.len()..]);
    let rest = after.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ']')
        .unwrap_or(rest.len());
    let mut url = Url::parse(&rest[..end]).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    // Credentials never follow a step's URL, not even as text.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    Some(Step {
        name: step_name(before)?,
        url,
    })
}

/// `… [provider: HOST, step: NAME] - ` or `… HOST [NAME] - ` just before the message.
fn step_name(before: &str) -> Option<String> {
    let head = before.trim_end().strip_suffix('-')?.trim_end();
    let inner = head.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    let inner = &inner[open + 1..];
    let name = match inner.rfind("step:") {
        Some(i) => &inner[i + "step:".len()..],
        None => inner,
    };
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The job id at the end of a job URL (`…/jobs/ID`), and the API base before it
/// (`…/processes/P/jobs/ID` and `…/providers/X/processes/P/jobs/ID` are Weaver's own forms).
fn split_job_url(url: &Url) -> Option<(String, String)> {
    let path = url.path().trim_end_matches('/');
    let (head, id) = path.rsplit_once("/jobs/")?;
    if id.is_empty() || id.contains('/') {
        return None;
    }
    let mut base = head;
    if let Some((b, _)) = base.rsplit_once("/processes/") {
        base = b;
        if let Some((b, _)) = base.rsplit_once("/providers/") {
            base = b;
        }
    }
    let origin = url.origin().ascii_serialization();
    Some((format!("{origin}{base}"), id.to_string()))
}

/// Where a step's job is: here when its URL is under the mount's API base, or when its id is a
/// job the mount lists (Weaver logs its public URL, which may not be the URL mounted).
pub fn locate(step: &Step, base: &Url, is_listed: impl Fn(&str) -> bool) -> StepJob {
    if let Some((step_base, id)) = split_job_url(&step.url) {
        let ours = format!(
            "{}{}",
            base.origin().ascii_serialization(),
            base.path().trim_end_matches('/')
        );
        if crate::tree::could_be_job_id(&id) && (step_base == ours || is_listed(&id)) {
            return StepJob::Here(id);
        }
    }
    StepJob::Elsewhere(step.url.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[2026-11-01 15:00:01] INFO     [weaver.datatype.Job] 0:00:01   2% running    Starting workflow.
[2026-11-01 15:00:05] INFO     [weaver.datatype.Job] 0:00:05  20% running    [provider: localhost, step: stage_in] - Monitoring job on remote ADES: [https://host/weaver/processes/stage-in/jobs/aa-1]
[2026-11-01 15:00:06] INFO     [weaver.datatype.Job] 0:00:06  21% running    [provider: localhost, step: stage_in] - Monitoring job on remote ADES: [https://host/weaver/processes/stage-in/jobs/aa-1]
[2026-11-01 15:01:05] INFO     [weaver.datatype.Job] 0:01:05  60% running    [provider: ades, step: first_3] - Monitoring job on remote ADES: [https://u:secret@ades.example/ogc/jobs/bb-2?token=x]
2026-11-01 15:02:00 INFO old-host [legacy] - Monitoring job on remote ADES : http://old.example/jobs/cc-3
[2026-11-01 15:03:00] INFO     [weaver.datatype.Job] 0:03:00  99% running    Monitoring job on remote ADES: [not a url]
";

    #[test]
    fn steps_from_weaver_logs() {
        let steps = parse_steps(LOG);
        let got: Vec<(&str, &str)> = steps.iter().map(|s| (&*s.name, s.url.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    "stage_in",
                    "https://host/weaver/processes/stage-in/jobs/aa-1"
                ),
                ("first_3", "https://ades.example/ogc/jobs/bb-2"),
                ("legacy", "http://old.example/jobs/cc-3"),
            ]
        );
    }

    #[test]
    fn here_or_elsewhere() {
        let steps = parse_steps(LOG);
        let base = Url::parse("https://host/weaver/").unwrap();
        let none = |_: &str| false;
        assert_eq!(locate(&steps[0], &base, none), StepJob::Here("aa-1".into()));
        assert!(matches!(
            locate(&steps[1], &base, none),
            StepJob::Elsewhere(_)
        ));
        // Weaver's public URL differs from the mount's, but the job is listed here.
        let tunnel = Url::parse("http://127.0.0.1:4001/weaver").unwrap();
        assert!(matches!(
            locate(&steps[0], &tunnel, none),
            StepJob::Elsewhere(_)
        ));
        assert_eq!(
            locate(&steps[0], &tunnel, |id| id == "aa-1"),
            StepJob::Here("aa-1".into())
        );
    }
}
