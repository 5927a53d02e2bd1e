//! `Core`: one filesystem of the core (`WeaverFs`) as Python sees it, spoken in `/` paths as
//! the mount shows them. Every call releases the GIL while the core works.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use weaverfs_fs::error::FsError;
use weaverfs_fs::fs::WeaverFs;
use weaverfs_fs::tree::{Attr, Content};

use crate::errors::to_py;
use crate::runtime::wait;

/// Largest piece asked of the core at once (its reads take a u32 size).
const MAX_PIECE: u64 = 64 << 20;

#[pyclass(frozen, module = "weaverfs._core")]
pub struct Core {
    fs: Arc<WeaverFs>,
    /// The longest one call waits, as the mount's (twice the retry budget and a connect).
    limit: Duration,
    url: String,
}

/// One entry as fsspec describes it.
struct Entry {
    path: String,
    attr: Attr,
    /// `Some(target)` for a link; `attr` is then the target's (or the link's if broken).
    link: Option<String>,
    content: &'static str,
}

impl Core {
    fn call<T: Send>(
        &self,
        py: Python<'_>,
        path: &str,
        fut: impl std::future::Future<Output = Result<T, FsError>> + Send,
    ) -> PyResult<T> {
        wait(py, self.limit, fut)?.map_err(|e| to_py(e, path))
    }

    /// What an entry holds, in a word: how `results()` tells literals from files.
    fn content_kind(&self, ino: u64) -> &'static str {
        match self.fs.tree().node(ino).map(|n| n.content.clone()) {
            Ok(Content::Inline(_)) => "literal",
            Ok(Content::Remote(_)) => "href",
            Ok(Content::Document(..) | Content::Stats) => "document",
            Ok(Content::Link(_)) => "link",
            Ok(c) if c.is_dir() => "directory",
            _ => "other",
        }
    }

    /// The entry at `path`, a final link followed (and said).
    async fn entry(&self, path: &str) -> Result<Entry, FsError> {
        let own = self.fs.resolve(path, false).await?;
        let (attr, link) = match own.is_link {
            false => (own, None),
            true => {
                let target = self.fs.readlink(own.ino)?.to_string();
                // A broken link is still listed, as `ls -l` does.
                let attr = self.fs.resolve(path, true).await.unwrap_or(own);
                (attr, Some(target))
            }
        };
        Ok(Entry {
            path: path.trim_matches('/').to_owned(),
            content: self.content_kind(attr.ino),
            attr,
            link,
        })
    }

    fn to_dict<'py>(py: Python<'py>, e: &Entry) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("name", &e.path)?;
        d.set_item("size", e.attr.size)?;
        let kind = match (e.attr.is_dir, e.attr.is_link) {
            (true, _) => "directory",
            (false, false) => "file",
            (false, true) => "other",
        };
        d.set_item("type", kind)?;
        let mtime = e.attr.mtime.duration_since(UNIX_EPOCH).unwrap_or_default();
        d.set_item("mtime", mtime.as_secs_f64())?;
        d.set_item("content", e.content)?;
        d.set_item("islink", e.link.is_some())?;
        if let Some(target) = &e.link {
            d.set_item("destination", target)?;
        }
        Ok(d)
    }
}

#[pymethods]
impl Core {
    /// A filesystem from options (see `options.rs`); nothing is fetched yet.
    #[new]
    fn new(opts: &Bound<'_, PyDict>) -> PyResult<Self> {
        let cfg = crate::options::config(opts)?;
        let fs =
            weaverfs_fs::mount::build_fs(&cfg).map_err(pyo3::exceptions::PyValueError::new_err)?;
        Ok(Core {
            fs: Arc::new(fs),
            limit: cfg.http.op_timeout(),
            url: cfg.api_url.to_string(),
        })
    }

    /// The API URL the options resolved to.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// Signs in (Magpie) and checks the server answers as an OGC API - Processes server.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        let fs = self.fs.clone();
        self.call(py, "", async move {
            fs.tree().api().http().authenticate().await?;
            fs.tree().api().check().await
        })
    }

    /// fsspec's description of `path`: name, size, type, mtime, content (literal, href,
    /// document, directory...), islink and destination.
    fn info<'py>(&self, py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyDict>> {
        let entry = self.call(py, path, self.entry(path))?;
        Self::to_dict(py, &entry)
    }

    /// The entries of the directory at `path`, described as `info` does.
    fn ls<'py>(&self, py: Python<'py>, path: &str) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let dir = path.trim_matches('/');
        let entries = self.call(py, path, async {
            let attr = self.fs.resolve(dir, true).await?;
            if !attr.is_dir {
                return Err(FsError::NotDir);
            }
            let fh = self.fs.opendir(attr.ino).await?;
            // Names and attributes at once, as `ls -l` gets them (`.` and `..` skipped); an
            // entry whose attributes cannot be had now is left out, as there.
            let listed = self.fs.readdir_attrs(fh, 2, usize::MAX).await;
            self.fs.release(fh);
            let mut out = Vec::new();
            for (_, e, attr) in listed? {
                let path = match dir.is_empty() {
                    true => e.name.to_string(),
                    false => format!("{dir}/{}", e.name),
                };
                if attr.is_link {
                    match self.entry(&path).await {
                        Ok(entry) => out.push(entry),
                        Err(FsError::NotFound(_)) => {}
                        Err(err) => return Err(err),
                    }
                    continue;
                }
                out.push(Entry {
                    path,
                    content: self.content_kind(attr.ino),
                    attr,
                    link: None,
                });
            }
            Ok(out)
        })?;
        entries.iter().map(|e| Self::to_dict(py, e)).collect()
    }

    /// The target of the link at `path`.
    fn readlink(&self, py: Python<'_>, path: &str) -> PyResult<String> {
        self.call(py, path, async {
            let attr = self.fs.resolve(path, false).await?;
            Ok(self.fs.readlink(attr.ino)?.to_string())
        })
    }

    /// Opens the file at `path`: `(handle, size)`. Reads through the handle go through the
    /// block cache and read-ahead, and fail once the file changes on the server.
    fn open(&self, py: Python<'_>, path: &str) -> PyResult<(u64, u64)> {
        self.call(py, path, async {
            let attr = self.fs.resolve(path, true).await?;
            if attr.is_dir {
                return Err(FsError::IsDir);
            }
            let opened = self.fs.open(attr.ino).await?;
            // The size of the version just opened (a new version may have another).
            let size = self
                .fs
                .getattr(attr.ino)
                .await
                .map_or(attr.size, |a| a.size);
            Ok((opened.fh, size))
        })
    }

    /// Up to `size` bytes from `offset` of an open file: fewer only at its end.
    fn read<'py>(
        &self,
        py: Python<'py>,
        fh: u64,
        offset: u64,
        size: u64,
        path: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.call(py, path, async {
            let mut out = Vec::new();
            while (out.len() as u64) < size {
                let at = offset + out.len() as u64;
                let want = (size - out.len() as u64).min(MAX_PIECE) as u32;
                let piece = self.fs.read(fh, at, want).await?;
                if piece.is_empty() {
                    break;
                }
                if out.is_empty() && piece.len() as u64 == size {
                    return Ok(piece);
                }
                out.extend_from_slice(&piece);
            }
            Ok(bytes::Bytes::from(out))
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// Closes a handle of `open`.
    fn release(&self, fh: u64) {
        self.fs.release(fh);
    }

    /// The counters of this filesystem (as `.weaverfs/stats.json` of a mount), as JSON text.
    fn stats(&self) -> String {
        String::from_utf8_lossy(&self.fs.stats().json()).into_owned()
    }
}
