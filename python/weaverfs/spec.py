"""`WeaverFileSystem`, the fsspec protocol `weaver`: the tree of `weaverfs mount`, path for
path, read through the Rust core (`weaverfs._core`) without a mount."""

import errno
import os

from fsspec.spec import AbstractFileSystem
from fsspec.utils import stringify_path

from . import _core
from .file import WeaverFile
from .options import for_core


def _read_only(path):
    return OSError(errno.EROFS, "weaverfs is read-only", path)


class WeaverFileSystem(AbstractFileSystem):
    """The jobs of an OGC API - Processes server: `JOB/OUTPUT`, `JOB/.job/...`, the views.

    `url` is the server's API URL (https://host/weaver) or a server name of the config file
    (else $WEAVERFS_URL); the other options are those of `weaverfs mount` in snake_case
    (`token`, `token_file`, `cookie_file`, `user`, `password`, `password_file`, `netrc`,
    `netrc_file`, `magpie_url`, `headers`, `auth_origins`, `ca_cert`, `insecure`, `config`,
    `cache_size`, `block_size`, `cache_dir`, `cache_dir_size`, `read_ahead_blocks`, TTLs,
    timeouts, `retries`, `proxy`, `site_cache`). A pickled filesystem is made again from
    them (dask workers); so is one used in a forked child.
    """

    protocol = "weaver"
    root_marker = ""

    def __init__(self, url=None, **options):
        url = url or os.environ.get("WEAVERFS_URL")
        if not url:
            raise ValueError("weaver: url= is required (the server's API URL or a config-file "
                             "server name), or set WEAVERFS_URL")
        fsspec_options = {k: options.pop(k) for k in list(options)
                          if k in ("skip_instance_cache", "use_listings_cache",
                                   "listings_expiry_time", "max_paths", "asynchronous", "loop")}
        super().__init__(url=url, **options, **fsspec_options)
        self._core_options = for_core(dict(options, url=url))
        self._made = (os.getpid(), _core.Core(self._core_options))

    @property
    def core(self):
        """The core of this process (a forked child makes its own: the parent's threads and
        connections are not in it)."""
        pid, core = self._made
        if pid != os.getpid():
            self._made = (os.getpid(), _core.Core(self._core_options))
        return self._made[1]

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        if path.startswith("weaver://"):
            path = path[len("weaver://"):]
        return path.strip("/")

    def unstrip_protocol(self, name):
        return "weaver://" + self._strip_protocol(name)

    def ls(self, path, detail=True, **kwargs):
        entries = self.core.ls(self._strip_protocol(path))
        return entries if detail else [e["name"] for e in entries]

    def info(self, path, **kwargs):
        return self.core.info(self._strip_protocol(path))

    def readlink(self, path):
        """The target of a view's link, relative to its directory (as the mount shows it)."""
        return self.core.readlink(self._strip_protocol(path))

    def stats(self):
        """This filesystem's counters (requests, bytes, cache hits), as a mount's stats.json."""
        import json

        return json.loads(self.core.stats())

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None,
              **kwargs):
        path = self._strip_protocol(path)
        if mode != "rb":
            raise _read_only(path)
        return WeaverFile(self, path)

    def cat_file(self, path, start=None, end=None, **kwargs):
        # One handle, one range: read through the block cache like any read.
        with self._open(path) as f:
            size = f.size
            start = 0 if start is None else (max(0, size + start) if start < 0 else start)
            end = size if end is None else (max(0, size + end) if end < 0 else min(end, size))
            f.seek(start)
            return f.read(max(0, end - start))

    # Writing: the tree is read-only, as the mount is.
    def mkdir(self, path, create_parents=True, **kwargs):
        raise _read_only(path)

    def makedirs(self, path, exist_ok=False):
        raise _read_only(path)

    def rm_file(self, path):
        raise _read_only(path)

    def _rm(self, path):
        raise _read_only(path)

    def rm(self, path, recursive=False, maxdepth=None):
        raise _read_only(path)

    def rmdir(self, path):
        raise _read_only(path)

    def touch(self, path, truncate=True, **kwargs):
        raise _read_only(path)

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        raise _read_only(path)

    def cp_file(self, path1, path2, **kwargs):
        raise _read_only(path2)

    def mv(self, path1, path2, recursive=False, maxdepth=None, **kwargs):
        raise _read_only(path1)
