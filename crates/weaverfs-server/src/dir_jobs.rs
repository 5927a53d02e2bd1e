//! Jobs read from a directory laid out like Weaver's `wps_output_dir` (`serve --jobs-dir`):
//! each `{job-uuid}/` is a successful job, each `{job}/{output}/{file}` the file of an output
//! (several files make an array output), an `{output}/` holding folders a directory output
//! listed as nginx's autoindex, and a file right under `{job}/` an output named by its stem. Benchmarks point the hrefs at nginx serving the same directory; otherwise the built-in
//! file host serves the files from disk.

use std::path::{Path, PathBuf};

use super::clock::utc;
use super::content::Source;
use super::jobs::{canonical_uuid, successful, FileDef, JobDef, Output};

/// The jobs under `dir`, sorted by id. Entries that are not jobs or outputs are skipped with a
/// warning.
pub(crate) fn load(dir: &Path) -> std::io::Result<Vec<JobDef>> {
    let mut jobs = Vec::new();
    for (name, path) in sorted_entries(dir)? {
        if !path.is_dir() {
            continue;
        }
        match canonical_uuid(&name).filter(|id| *id == name) {
            Some(id) => jobs.push(load_job(id, &path)?),
            None => tracing::warn!("{}: not a job (its name is not a UUID)", path.display()),
        }
    }
    Ok(jobs)
}

fn load_job(id: String, dir: &Path) -> std::io::Result<JobDef> {
    let mut outputs = Vec::new();
    let mut files = Vec::new();
    let mut listable = Vec::new();
    for (name, path) in sorted_entries(dir)? {
        if path.is_dir() && has_subdirectory(&path)? {
            // A tree: one directory output, listed by the file host as nginx's autoindex.
            let top = leak(format!("{name}/"));
            tree_files(&path, top, &mut files, &mut listable)?;
            outputs.push((
                leak(name),
                Output::Href {
                    path: top,
                    media_type: "application/directory",
                },
            ));
        } else if path.is_dir() {
            let mut hrefs = Vec::new();
            for (file, path) in sorted_entries(&path)? {
                if path.is_file() {
                    let rel = leak(format!("{name}/{file}"));
                    files.push(disk_file(rel, path)?);
                    hrefs.push(href(rel));
                }
            }
            match hrefs.len() {
                0 => {}
                1 => outputs.push((leak(name), hrefs.remove(0))),
                _ => outputs.push((leak(name), Output::Array(hrefs))),
            }
        } else if path.is_file() {
            let stem = name.split('.').next().filter(|s| !s.is_empty());
            let rel = leak(name.clone());
            files.push(disk_file(rel, path)?);
            outputs.push((leak(stem.unwrap_or(&name).to_owned()), href(rel)));
        }
    }
    let created = utc(2026, 11, 2, 9, 0, 0, 0);
    let mut job = successful(id, "directory", created, created + 5_000_000, outputs);
    job.files = files;
    job.listable_dirs = listable;
    Ok(job)
}

fn has_subdirectory(dir: &Path) -> std::io::Result<bool> {
    Ok(sorted_entries(dir)?.iter().any(|(_, p)| p.is_dir()))
}

/// Every file under `dir` (published under `rel`, which ends with `/`), and every directory
/// as listable.
fn tree_files(
    dir: &Path,
    rel: &'static str,
    files: &mut Vec<FileDef>,
    listable: &mut Vec<&'static str>,
) -> std::io::Result<()> {
    listable.push(rel);
    for (name, path) in sorted_entries(dir)? {
        if path.is_dir() {
            tree_files(&path, leak(format!("{rel}{name}/")), files, listable)?;
        } else if path.is_file() {
            files.push(disk_file(leak(format!("{rel}{name}")), path)?);
        }
    }
    Ok(())
}

/// Visible entries of a directory (no dot files), by name.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        match entry.file_name().into_string() {
            Ok(name) if !name.starts_with('.') => entries.push((name, entry.path())),
            Ok(_) => {}
            Err(name) => tracing::warn!("{}: skipped, not UTF-8: {name:?}", dir.display()),
        }
    }
    entries.sort();
    Ok(entries)
}

fn disk_file(rel: &'static str, path: PathBuf) -> std::io::Result<FileDef> {
    let len = path.metadata()?.len();
    Ok(FileDef {
        path: rel,
        source: Source::Disk {
            path: Box::leak(path.into_boxed_path()),
            len,
        },
    })
}

fn href(path: &'static str) -> Output {
    Output::Href {
        path,
        media_type: media_type(path),
    }
}

fn media_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("nc") => "application/x-netcdf",
        Some("tif" | "tiff") => "image/tiff; application=geotiff",
        Some("json") => "application/json",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

/// The server loads the directory once and keeps its jobs for its whole life, so their names
/// may live as long.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_outputs_and_arrays_from_a_directory() {
        let root = tempfile::tempdir().unwrap();
        let id = "0f0e0d0c-0b0a-4908-8706-050403020100";
        let job = root.path().join(id);
        std::fs::create_dir_all(job.join("output_nc")).unwrap();
        std::fs::create_dir_all(job.join("parts")).unwrap();
        std::fs::create_dir_all(root.path().join("not-a-job")).unwrap();
        std::fs::write(job.join("output_nc/x.nc"), b"CDF").unwrap();
        std::fs::write(job.join("parts/1.txt"), b"one").unwrap();
        std::fs::write(job.join("parts/2.txt"), b"two").unwrap();
        std::fs::write(job.join("top.csv"), b"a,b\n").unwrap();
        std::fs::write(job.join(".hidden"), b"").unwrap();

        let jobs = load(root.path()).unwrap();
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert_eq!(job.id, id);
        let ids: Vec<&str> = job.outputs.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, ["output_nc", "parts", "top"]);
        assert!(matches!(&job.outputs[1].1, Output::Array(a) if a.len() == 2));
        let f = job.file("parts/2.txt").unwrap();
        assert_eq!(f.source.read(0, 0, 3), b"two");
        assert_eq!(job.file("top.csv").unwrap().source.len(), 4);
    }

    #[test]
    fn a_folder_with_folders_is_a_listable_directory_output() {
        let root = tempfile::tempdir().unwrap();
        let id = "0f0e0d0c-0b0a-4908-8706-050403020101";
        let nested = root.path().join(id).join("source/subdir/nesteddir");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(root.path().join(id).join("source/file1"), b"1").unwrap();
        std::fs::write(nested.join("nestedfile"), b"n").unwrap();

        let job = &load(root.path()).unwrap()[0];
        assert!(matches!(
            job.outputs[0],
            (
                "source",
                Output::Href {
                    path: "source/",
                    media_type: "application/directory"
                }
            )
        ));
        assert_eq!(
            job.listable_dirs,
            ["source/", "source/subdir/", "source/subdir/nesteddir/"]
        );
        let nested = job.file("source/subdir/nesteddir/nestedfile").unwrap();
        assert_eq!(nested.source.read(0, 0, 1), b"n");
    }
}
