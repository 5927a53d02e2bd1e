//! The views: `@process/`, `@status/` and `@date/`, each a directory of buckets holding one
//! relative symlink per job (`../../JOB`), plus `@process/P/@latest`. They are built from the root
//! listing's summaries in the same refresh as the root, so a view never names a job the root does
//! not list.
//!
//! Memory stays small for 100,000 jobs: one row per job (its name shared with the root entry),
//! buckets of row numbers, and symlink inodes that are derived, never registered: a job's link
//! is `LINK_BIT | the job directory's inode` in every view, `@latest` is
//! `LATEST_BIT | its process directory's inode`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::api::listing::Listed;
use crate::api::JobState;

/// The names the views add among job names: none can be a job id (letters, digits, `-`, `_`).
pub const PROCESS_VIEW: &str = "@process";
pub const STATUS_VIEW: &str = "@status";
pub const DATE_VIEW: &str = "@date";
pub const LATEST: &str = "@latest";
/// The bucket of jobs whose listing entry lacks the view's field.
pub const UNKNOWN: &str = "@unknown";

/// The marks of derived inode numbers (registered inodes count up from 1 and never reach them).
pub const LINK_BIT: u64 = 1 << 62;
pub const LATEST_BIT: u64 = 1 << 61;
/// The mark of a listed job's directory: `JOB_BIT | its place in the tree's table of job ids`.
pub const JOB_BIT: u64 = 1 << 60;

/// The states `@status/` always shows, in this order; `unknown` only when some job has it.
const STATES: [JobState; 7] = [
    JobState::Created,
    JobState::Accepted,
    JobState::Running,
    JobState::Successful,
    JobState::Failed,
    JobState::Dismissed,
    JobState::Unknown,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Process = 0,
    Status = 1,
    Date = 2,
}

impl View {
    pub const ALL: [View; 3] = [View::Process, View::Status, View::Date];

    pub fn name(self) -> &'static str {
        match self {
            View::Process => PROCESS_VIEW,
            View::Status => STATUS_VIEW,
            View::Date => DATE_VIEW,
        }
    }
}

/// A directory of the views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewDir {
    /// `@process/`, `@status/`, `@date/`.
    Top(View),
    /// `@process/P/`, `@status/S/`, `@date/D/`: the bucket's name.
    Bucket(View, Arc<str>),
}

/// A listed job as the views need it.
#[derive(Debug)]
struct Row {
    name: Arc<str>,
    /// The job directory's inode.
    ino: u64,
    state: JobState,
    created: i64,
    time: Option<i64>,
    /// Its bucket in each view.
    bucket: [u32; 3],
}

#[derive(Debug, Default)]
struct Bucket {
    name: Arc<str>,
    /// Row numbers, in the listing's order.
    rows: Vec<u32>,
    /// The newest successful job (process buckets).
    latest: Option<u32>,
    /// The newest time of its jobs.
    time: Option<i64>,
}

/// An entry of a bucket directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEntry {
    pub name: Arc<str>,
    pub ino: u64,
}

/// What a derived symlink inode points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub target: Arc<str>,
    /// The job's time (microseconds), so `ls -lt` of a view sorts jobs newest first.
    pub time: Option<i64>,
}

/// The views of one root listing.
#[derive(Debug)]
pub struct ViewIndex {
    /// Sorted by `ino`.
    rows: Vec<Row>,
    buckets: [Vec<Bucket>; 3],
    /// How many jobs lacked a process id, a creation time, a state.
    pub missing: [usize; 3],
    pub at: Instant,
}

/// `YYYY-MM-DD` (UTC) of a time in microseconds.
pub fn day_name(micros: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(micros.div_euclid(1_000_000)).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}",
        t.year(),
        u8::from(t.month()),
        t.day()
    ))
}

/// The buckets of one view as rows are added: each distinct key once, numbered as first met.
#[derive(Default)]
struct Grouping {
    index: HashMap<Arc<str>, u32>,
}

impl Grouping {
    fn with(always: &[&str]) -> Self {
        let mut g = Grouping::default();
        for name in always {
            g.of(Arc::from(*name));
        }
        g
    }

    fn of(&mut self, key: Arc<str>) -> u32 {
        let next = self.index.len() as u32;
        *self.index.entry(key).or_insert(next)
    }

    /// The buckets sorted by name, and each first-met number's place among them.
    fn finish(self) -> (Vec<Bucket>, Vec<u32>) {
        let mut names: Vec<(Arc<str>, u32)> = self.index.into_iter().collect();
        names.sort_unstable();
        let mut place = vec![0u32; names.len()];
        for (i, (_, first)) in names.iter().enumerate() {
            place[*first as usize] = i as u32;
        }
        let buckets = names
            .into_iter()
            .map(|(name, _)| Bucket {
                name,
                ..Default::default()
            })
            .collect();
        (buckets, place)
    }
}

impl ViewIndex {
    /// Builds the views of the listed jobs: `(name in the root, job directory inode, summary)`.
    /// Taken one by one, so the caller's summaries are dropped as the rows are made.
    pub fn build(jobs: impl IntoIterator<Item = (Arc<str>, u64, Listed)>) -> ViewIndex {
        let unknown: Arc<str> = Arc::from(UNKNOWN);
        let mut missing = [0; 3];
        // Process names and days, each kept once (their bucket's name).
        let mut safe: HashMap<Arc<str>, Arc<str>> = HashMap::new();
        let mut days: HashMap<String, Arc<str>> = HashMap::new();
        let always: Vec<&str> = STATES[..6].iter().map(|s| s.as_str()).collect();
        let mut groups = [
            Grouping::default(),
            Grouping::with(&always),
            Grouping::default(),
        ];
        let state_names: Vec<Arc<str>> = STATES.iter().map(|s| Arc::from(s.as_str())).collect();
        let mut rows = Vec::new();
        for (name, ino, l) in jobs {
            let process = match l.process {
                Some(p) => safe
                    .entry(p)
                    .or_insert_with_key(|p| Arc::from(crate::tree::naming::safe_name(p)))
                    .clone(),
                None => {
                    missing[0] += 1;
                    unknown.clone()
                }
            };
            let state = l.state.unwrap_or_else(|| {
                missing[1] += 1;
                JobState::Unknown
            });
            let day = match l.created.and_then(day_name) {
                Some(d) => days
                    .entry(d)
                    .or_insert_with_key(|d| Arc::from(d.as_str()))
                    .clone(),
                None => {
                    missing[2] += 1;
                    unknown.clone()
                }
            };
            let s = STATES.iter().position(|s| *s == state).unwrap_or(6);
            let bucket = [
                groups[0].of(process),
                groups[1].of(state_names[s].clone()),
                groups[2].of(day),
            ];
            rows.push(Row {
                name,
                ino,
                state,
                created: l.created.unwrap_or(i64::MIN),
                time: l.time,
                bucket,
            });
        }
        let [(mut pb, p_at), (mut sb, s_at), (mut db, d_at)] = groups.map(Grouping::finish);
        for row in rows.iter_mut() {
            let [p, s, d] = row.bucket;
            row.bucket = [p_at[p as usize], s_at[s as usize], d_at[d as usize]];
        }
        // Rows sorted by inode, buckets filled in the listing's order.
        let mut order: Vec<u32> = (0..rows.len() as u32).collect();
        order.sort_unstable_by_key(|&i| rows[i as usize].ino);
        let mut position = vec![0u32; rows.len()];
        for (pos, &i) in order.iter().enumerate() {
            position[i as usize] = pos as u32;
        }
        drop(order);
        for (i, row) in rows.iter().enumerate() {
            let r = position[i];
            for (v, buckets) in [&mut pb, &mut sb, &mut db].into_iter().enumerate() {
                let b = &mut buckets[row.bucket[v] as usize];
                b.rows.push(r);
                b.time = b.time.max(row.time);
            }
        }
        drop(position);
        rows.sort_unstable_by_key(|r| r.ino);
        rows.shrink_to_fit();
        for b in pb.iter_mut() {
            b.latest = b
                .rows
                .iter()
                .copied()
                .filter(|&r| rows[r as usize].state == JobState::Successful)
                .max_by(|&a, &b| {
                    let (a, b) = (&rows[a as usize], &rows[b as usize]);
                    (a.created, a.time, &a.name).cmp(&(b.created, b.time, &b.name))
                });
        }
        for b in pb.iter_mut().chain(sb.iter_mut()).chain(db.iter_mut()) {
            b.rows.shrink_to_fit();
        }
        ViewIndex {
            rows,
            buckets: [pb, sb, db],
            missing,
            at: Instant::now(),
        }
    }

    /// An empty index (before the first listing).
    pub fn empty() -> ViewIndex {
        ViewIndex::build(Vec::new())
    }

    fn row_of(&self, job_ino: u64) -> Option<&Row> {
        let i = self.rows.binary_search_by_key(&job_ino, |r| r.ino).ok()?;
        Some(&self.rows[i])
    }

    fn bucket(&self, view: View, name: &str) -> Option<(u32, &Bucket)> {
        let buckets = &self.buckets[view as usize];
        let i = buckets.binary_search_by(|b| (*b.name).cmp(name)).ok()?;
        Some((i as u32, &buckets[i]))
    }

    /// The bucket names of a view, with the newest time of their jobs. `@status/unknown` only
    /// when some job is in it.
    pub fn buckets(&self, view: View) -> Vec<(Arc<str>, Option<i64>)> {
        self.buckets[view as usize]
            .iter()
            .filter(|b| !(view == View::Status && b.rows.is_empty() && &*b.name == "unknown"))
            .map(|b| (b.name.clone(), b.time))
            .collect()
    }

    pub fn bucket_time(&self, view: View, name: &str) -> Option<i64> {
        self.bucket(view, name).and_then(|(_, b)| b.time)
    }

    /// The entries of a bucket: `@latest` first (process buckets), then one link per job.
    pub fn entries(&self, view: View, name: &str, dir_ino: u64) -> Option<Vec<LinkEntry>> {
        let (_, b) = self.bucket(view, name)?;
        let mut out = Vec::with_capacity(b.rows.len() + 1);
        if b.latest.is_some() {
            out.push(LinkEntry {
                name: Arc::from(LATEST),
                ino: LATEST_BIT | dir_ino,
            });
        }
        out.extend(b.rows.iter().map(|&r| {
            let row = &self.rows[r as usize];
            LinkEntry {
                name: row.name.clone(),
                ino: LINK_BIT | row.ino,
            }
        }));
        Some(out)
    }

    /// Whether the job directory `job_ino` is in the bucket.
    pub fn contains(&self, view: View, name: &str, job_ino: u64) -> bool {
        match (self.bucket(view, name), self.row_of(job_ino)) {
            (Some((i, _)), Some(row)) => row.bucket[view as usize] == i,
            _ => false,
        }
    }

    /// The link of a job's derived inode: `../../NAME` (views are two levels below the root).
    pub fn job_link(&self, job_ino: u64) -> Option<Link> {
        let row = self.row_of(job_ino)?;
        Some(Link {
            target: Arc::from(format!("../../{}", row.name)),
            time: row.time,
        })
    }

    /// `@latest` of a process bucket.
    pub fn latest(&self, process: &str) -> Option<Link> {
        let (_, b) = self.bucket(View::Process, process)?;
        let row = &self.rows[b.latest? as usize];
        Some(Link {
            target: Arc::from(format!("../../{}", row.name)),
            time: row.time,
        })
    }

    /// The job's time as the listing gave it (finished, else updated, else created).
    pub fn job_time(&self, job_ino: u64) -> Option<i64> {
        self.row_of(job_ino)?.time
    }

    /// The root name of a listed job id (the same, unless the listing renamed it).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str, process: Option<&str>, state: JobState, created: Option<i64>) -> Listed {
        Listed {
            id: id.into(),
            process: process.map(Into::into),
            state: Some(state),
            created,
            time: created.map(|c| c + 5),
        }
    }

    const DAY: i64 = 86_400_000_000;

    fn index() -> ViewIndex {
        let t = 1_796_032_800_000_000; // 2026-11-30T10:00:00Z
        let jobs = vec![
            ("a", Some("subset"), JobState::Successful, Some(t)),
            ("b", Some("subset"), JobState::Running, Some(t + 10)),
            ("c", Some("subset"), JobState::Successful, Some(t + 5)),
            ("d", Some("echo"), JobState::Failed, Some(t - DAY)),
            ("e", None, JobState::Successful, None),
        ];
        ViewIndex::build(
            jobs.into_iter()
                .enumerate()
                .map(|(i, (id, p, s, c))| (Arc::from(id), 100 - i as u64, listed(id, p, s, c))),
        )
    }

    fn names(v: Option<Vec<LinkEntry>>) -> Vec<String> {
        v.unwrap().into_iter().map(|e| e.name.to_string()).collect()
    }

    #[test]
    fn buckets_of_each_view() {
        let ix = index();
        let procs: Vec<String> = ix
            .buckets(View::Process)
            .iter()
            .map(|b| b.0.to_string())
            .collect();
        assert_eq!(procs, ["@unknown", "echo", "subset"]);
        assert_eq!(
            names(ix.entries(View::Process, "subset", 7)),
            ["@latest", "a", "b", "c"]
        );
        let dates: Vec<String> = ix
            .buckets(View::Date)
            .iter()
            .map(|b| b.0.to_string())
            .collect();
        assert_eq!(dates, ["2026-11-29", "2026-11-30", "@unknown"]);
        let states: Vec<String> = ix
            .buckets(View::Status)
            .iter()
            .map(|b| b.0.to_string())
            .collect();
        assert_eq!(
            states,
            [
                "accepted",
                "created",
                "dismissed",
                "failed",
                "running",
                "successful"
            ]
        );
        assert_eq!(
            names(ix.entries(View::Status, "successful", 1)),
            ["a", "c", "e"]
        );
        assert!(names(ix.entries(View::Status, "created", 1)).is_empty());
        assert_eq!(ix.missing, [1, 0, 1]);
    }

    #[test]
    fn latest_is_the_newest_successful_job() {
        let ix = index();
        assert_eq!(&*ix.latest("subset").unwrap().target, "../../c");
        assert!(ix.latest("echo").is_none(), "no successful job of echo");
        assert_eq!(
            ix.entries(View::Process, "subset", 7).unwrap()[0].ino,
            LATEST_BIT | 7
        );
    }

    #[test]
    fn links_and_membership() {
        let ix = index();
        // "c" was the third job: inode 98.
        assert!(ix.contains(View::Process, "subset", 98));
        assert!(!ix.contains(View::Process, "echo", 98));
        assert!(!ix.contains(View::Process, "nope", 98));
        assert_eq!(&*ix.job_link(98).unwrap().target, "../../c");
        assert!(ix.job_link(5).is_none());
    }

    #[test]
    fn view_names_are_never_job_ids() {
        for name in [PROCESS_VIEW, STATUS_VIEW, DATE_VIEW, LATEST, UNKNOWN] {
            assert!(!crate::tree::could_be_job_id(name), "{name}");
        }
    }
}
