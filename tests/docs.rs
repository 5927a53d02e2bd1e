//! The docs stay navigable and true to the binary: the options page names exactly the options
//! of `weaverfs mount --help`, under the help's own groups; every relative link and anchor in
//! the README and `docs/` resolves; the README stays a front door.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const README_MAX_LINES: usize = 250;
const OPTIONS_PAGE: &str = "docs/options.md";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &Path) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()))
}

/// README.md and every Markdown page under docs/, as paths relative to the repository.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![PathBuf::from("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let name = PathBuf::from("docs").join(entry.unwrap().file_name());
        if name.extension().is_some_and(|e| e == "md") {
            pages.push(name);
        }
    }
    pages.sort();
    pages
}

/// The lines of a Markdown page that are not inside ``` fences.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// `--name` options in a text: two dashes, then a lowercase letter, letters, digits, dashes.
fn long_options(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'-');
        let name: String = text[start + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if before_ok && name.starts_with(|c: char| c.is_ascii_lowercase()) {
            found.insert(format!("--{}", name.trim_end_matches('-')));
        }
        i = start + 2 + name.len();
    }
    found
}

/// `weaverfs mount --help` as its groups ("Options" is shown as "General" on the page) and
/// the long options listed under each.
fn help_groups() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO_BIN_EXE_weaverfs"))
        .args(["mount", "--help"])
        .output()
        .expect("weaverfs runs");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let mut groups = BTreeMap::<String, BTreeSet<String>>::new();
    let mut group = None;
    for line in help.lines() {
        if let Some(heading) = line.strip_suffix(':').filter(|h| !h.starts_with(' ')) {
            group = match heading {
                "Usage" | "Arguments" => None,
                "Options" => Some("General".to_string()),
                other => Some(other.to_string()),
            };
            continue;
        }
        let Some(group) = &group else { continue };
        // An option's own line starts with its flags: `  -f, --foreground` or `      --uid <N>`.
        let flags = line.trim_start();
        if !flags.starts_with('-') {
            continue;
        }
        let first = flags.split("  ").next().unwrap();
        if let Some(option) = long_options(first).into_iter().next() {
            groups.entry(group.clone()).or_default().insert(option);
        }
    }
    assert!(groups.len() >= 5, "help groups not found in:\n{help}");
    groups
}

/// A page's `## ` sections: heading and the text under it.
fn sections(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::<String, String>::new();
    let mut current = String::new();
    for line in prose(text) {
        if let Some(h) = line.strip_prefix("## ") {
            current = h.trim().to_string();
            continue;
        }
        let body = out.entry(current.clone()).or_default();
        body.push_str(line);
        body.push('\n');
    }
    out
}

#[test]
fn the_options_page_names_every_option_of_mount_help_under_its_group() {
    let groups = help_groups();
    let page = read(Path::new(OPTIONS_PAGE));
    let sections = sections(&page);
    let mut missing = Vec::new();
    for (group, options) in &groups {
        let Some(body) = sections.get(group) else {
            missing.push(format!("no section `## {group}`"));
            continue;
        };
        let documented = long_options(body);
        for option in options {
            if !documented.contains(option) {
                missing.push(format!("{option} (under `## {group}`)"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{OPTIONS_PAGE} lacks what `weaverfs mount --help` has: {missing:#?}"
    );
}

#[test]
fn every_option_on_the_options_page_exists_in_mount_help() {
    let known: BTreeSet<String> = help_groups().into_values().flatten().collect();
    let page = read(Path::new(OPTIONS_PAGE));
    let unknown: Vec<_> = long_options(&prose(&page).join("\n"))
        .into_iter()
        .filter(|o| !known.contains(o))
        .collect();
    assert!(
        unknown.is_empty(),
        "{OPTIONS_PAGE} names options `weaverfs mount --help` does not have: {unknown:?}"
    );
}

/// GitHub's anchor of a heading: lowercase, spaces to `-`, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings (a repeated heading gets `-1`, `-2`... as on GitHub).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeMap::<String, usize>::new();
    let mut out = BTreeSet::new();
    for line in prose(text) {
        let level = line.chars().take_while(|c| *c == '#').count();
        if level == 0 || level > 6 || !line[level..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[level..]);
        let n = seen.entry(base.clone()).or_insert(0);
        out.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    out
}

/// The targets of the Markdown links and images of a page: `[text](target)`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read(&page);
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !repo().join(&file).exists() {
                broken.push(format!(
                    "{}: {target} (no {})",
                    page.display(),
                    file.display()
                ));
                continue;
            }
            if let Some(anchor) = anchor {
                if !anchors(&read(&file)).contains(anchor) {
                    broken.push(format!("{}: {target} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

#[test]
fn the_readme_stays_a_front_door() {
    let lines = read(Path::new("README.md")).lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; the budget is {README_MAX_LINES}: move detail to docs/"
    );
}

#[test]
fn the_link_and_anchor_rules_are_githubs() {
    assert_eq!(
        slug("fstab and `mount -t weaverfs`"),
        "fstab-and-mount--t-weaverfs"
    );
    assert_eq!(slug("Timeouts: no call hangs"), "timeouts-no-call-hangs");
    assert_eq!(
        anchors("# A\n## B\n```\n## not a heading\n```\n## B\n"),
        ["a", "b", "b-1"].map(String::from).into()
    );
    assert_eq!(
        link_targets("see [a](x.md#y) and ![b](c.png)\n```\n[no](z)\n```\n"),
        ["x.md#y", "c.png"]
    );
    assert_eq!(
        long_options("`--cache-size 1G`, --no-passthrough; a---b, x--y"),
        ["--cache-size", "--no-passthrough"]
            .map(String::from)
            .into()
    );
}

#[test]
fn the_readmes_performance_table_is_the_benchmarks_own() {
    // The README's table is generated from docs/bench.tsv and docs/bench-wan.tsv by
    // scripts/bench_summary.py (which scripts/bench.sh runs): regenerating it from the same
    // measures must change nothing, so no hand edit or stale table survives.
    let copy = std::env::temp_dir().join(format!("weaverfs-readme-{}.md", std::process::id()));
    std::fs::copy(repo().join("README.md"), &copy).unwrap();
    let status = Command::new("python3")
        .arg(repo().join("scripts/bench_summary.py"))
        .arg(repo().join("docs/bench.tsv"))
        .arg(repo().join("docs/bench-wan.tsv"))
        .arg(&copy)
        .status()
        .expect("python3 runs");
    let regenerated = std::fs::read_to_string(&copy).unwrap();
    std::fs::remove_file(&copy).ok();
    assert!(status.success(), "bench_summary.py failed");
    assert!(regenerated.contains("| 1 GiB `dd bs=1M`, cold: weaverfs |"));
    assert_eq!(
        regenerated,
        read(Path::new("README.md")),
        "README.md's performance table differs from what scripts/bench_summary.py makes of \
         docs/bench.tsv and docs/bench-wan.tsv: rerun it"
    );
}
