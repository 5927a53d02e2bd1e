//! Request paths to entries of the tree: links (views, `@latest`, workflow steps) are followed,
//! and the real directories passed on the way are kept, so that a listing never offers a link
//! back to one of them (a client walking the tree never loops).

use crate::error::{FsError, Result};
use crate::fs::WeaverFs;
use crate::tree::{Attr, ROOT_INO};

/// Links followed for one path at most, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

/// Where a request path leads.
pub struct Walked {
    pub attr: Attr,
    /// The entry's real path (`/JOB/out.nc`; `""` is the root), links resolved.
    pub real: String,
    /// The real path of every directory passed, the root first.
    pub trail: Vec<String>,
}

/// The names of a `/`-separated path, without empty ones and `.`.
fn names(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|n| !n.is_empty() && *n != ".")
}

fn joined(names: &[String]) -> String {
    names.iter().map(|n| format!("/{n}")).collect()
}

/// Follows `path` (already percent-decoded) from the root, final link included.
pub async fn walk(fs: &WeaverFs, path: &str) -> Result<Walked> {
    let root = fs.getattr(ROOT_INO).await?;
    let mut todo: Vec<String> = names(path).rev().map(str::to_owned).collect();
    // The real directories from the root down to the current entry.
    let mut real: Vec<(String, Attr)> = Vec::new();
    let mut trail = vec![String::new()];
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            real.pop();
            continue;
        }
        let dir = real.last().map_or(&root, |(_, a)| a);
        if !dir.is_dir {
            return Err(FsError::NotDir);
        }
        let attr = fs.lookup(dir.ino, &name).await?;
        if attr.is_link {
            links += 1;
            if links > MAX_LINKS {
                return Err(FsError::Io(format!("{path}: too many levels of links")));
            }
            let target = fs.readlink(attr.ino)?;
            if target.starts_with('/') {
                real.clear();
            }
            todo.extend(names(&target).rev().map(str::to_owned));
            continue;
        }
        real.push((name, attr));
        if attr.is_dir {
            let names: Vec<String> = real.iter().map(|(n, _)| n.clone()).collect();
            trail.push(joined(&names));
        }
    }
    let attr = real.last().map_or(root, |(_, a)| *a);
    let names: Vec<String> = real.into_iter().map(|(n, _)| n).collect();
    Ok(Walked {
        attr,
        real: joined(&names),
        trail,
    })
}

/// The path a link in directory `dir` (a real path) points to, `..` resolved by name.
pub fn link_target(dir: &str, target: &str) -> String {
    let mut out: Vec<String> = match target.starts_with('/') {
        true => Vec::new(),
        false => names(dir).map(str::to_owned).collect(),
    };
    for name in names(target) {
        match name {
            ".." => {
                out.pop();
            }
            _ => out.push(name.to_owned()),
        }
    }
    joined(&out)
}

/// Whether a link to `target` would lead a walk that passed `trail` back to where it was: the
/// target is one of those directories or holds one of them.
pub fn leads_back(target: &str, trail: &[String]) -> bool {
    let below = format!("{target}/");
    target.is_empty() || trail.iter().any(|t| t == target || t.starts_with(&below))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_resolve_by_name() {
        assert_eq!(link_target("/views/by-process/p", "../../../J"), "/J");
        assert_eq!(link_target("/J/.job/steps", "../../../K"), "/K");
        assert_eq!(link_target("/a", "../../.."), "");
        assert_eq!(link_target("/a/b", "/c/./d"), "/c/d");
    }

    #[test]
    fn a_link_to_a_directory_passed_or_above_it_leads_back() {
        let trail = vec![String::new(), "/J".into(), "/J/.job".into()];
        assert!(leads_back("/J", &trail));
        assert!(leads_back("", &trail));
        assert!(!leads_back("/K", &trail));
        assert!(
            !leads_back("/J2", &trail),
            "a sibling sharing a prefix is not above"
        );
        assert!(!leads_back("/J/.job/steps", &trail));
    }
}
