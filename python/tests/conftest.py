"""Fixtures of the Python package's tests: the sample server (`weaverfs serve sample
--control`, with a jobs directory laid out for fsspec's own tests), a real `weaverfs mount` to
compare with, and the real pygeoapi and fastprocesses of the Rust suite."""

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import fsspec
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The jobs of the sample server (crates/weaverfs-server/src/jobs.rs).
LITERALS = "0d6c1a2e-3b4f-4c5d-8e6f-7a8b9c0d1e01"
FILES = "1f2e3d4c-5b6a-4978-8a69-5b4c3d2e1f02"
FAILED = "2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7a03"
# Jobs of the jobs directory below, one per scenario of fsspec's abstract tests.
SCENARIO_JOBS = {
    "bulk": "5ce0a710-0000-4000-8000-000000000000",
    "glob": "5ce0a710-0000-4000-8000-000000000001",
    "prefix": "5ce0a710-0000-4000-8000-000000000002",
    "hashed": "5ce0a710-0000-4000-8000-000000000003",
}
# A job whose file test_errors.py changes on the server (`bump`): no other test reads it.
CHANGING = "c4a2e000-0000-4000-8000-000000000004"
BIG_SIZE = 64 << 20


def weaverfs_bin():
    found = os.environ.get("WEAVERFS_BIN") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "weaverfs")
    if not os.access(found, os.X_OK):
        pytest.fail(f"no weaverfs binary at {found}: `cargo build --release`, or set WEAVERFS_BIN")
    return found


def write_scenarios(root):
    """fsspec's scenarios (fsspec/tests/abstract/__init__.py) as files of jobs: each job's
    `source/` output is the scenario's `source` folder."""

    def files(job, paths):
        for rel, data in paths.items():
            path = os.path.join(root, SCENARIO_JOBS[job], "source", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    files("bulk", {p: p.encode() for p in (
        "file1", "file2", "subdir/subfile1", "subdir/subfile2", "subdir/nesteddir/nestedfile")})
    glob = ["file1", "file2"]
    for i in range(2):
        glob += [f"subdir{i}/subfile1", f"subdir{i}/subfile2", f"subdir{i}/nesteddir/nestedfile"]
    files("glob", {p: p.encode() for p in glob})
    files("prefix", {"subdir.txt": b"subdir.txt", "subdir/subfile.txt": b"subfile.txt"})
    os.makedirs(os.path.join(root, CHANGING))
    with open(os.path.join(root, CHANGING, "data.bin"), "wb") as f:
        # Larger than the size probe's first 64 KiB, so a later read is a request of its own.
        f.write(os.urandom(256 * 1024))
    files("hashed", {f"{hashlib.md5(str(i).encode()).hexdigest()}.txt": str(i).encode()
                     for i in range(10)})


class Sample:
    """`weaverfs serve sample --control`: its URL, and its commands (one line each way)."""

    def __init__(self, jobs_dir):
        self.proc = subprocess.Popen(
            [weaverfs_bin(), "serve", "sample", "--addr", "127.0.0.1:0", "--control",
             "--big-file-size", str(BIG_SIZE), "--jobs-dir", jobs_dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError(f"the sample server said {self.url!r}")

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if reply.startswith("error"):
            raise RuntimeError(f"{line}: {reply}")
        return reply

    def requests(self):
        return json.loads(self.command("requests"))

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def sample():
    with tempfile.TemporaryDirectory() as jobs_dir:
        write_scenarios(jobs_dir)
        server = Sample(jobs_dir)
        yield server
        server.stop()


@pytest.fixture
def fs(sample):
    # A new core per test: no test sees another's cache or counters.
    return fsspec.filesystem("weaver", url=sample.url, skip_instance_cache=True)


@contextlib.contextmanager
def mounted(url):
    """`weaverfs mount url` on a temporary directory (needs /dev/fuse: the suite runs as root)."""
    with tempfile.TemporaryDirectory() as where:
        out = subprocess.run([weaverfs_bin(), "mount", url, where], capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            pytest.fail(f"weaverfs mount {url}: {out.stderr}")
        try:
            yield where
        finally:
            subprocess.run([weaverfs_bin(), "unmount", where], check=True, timeout=60)


@pytest.fixture(scope="session")
def sample_mount(sample):
    with mounted(sample.url) as where:
        yield where


def start_real_server(name, workdir):
    """pygeoapi or fastprocesses with the Rust suite's jobs (scripts/test-servers.py); stops
    when this process ends."""
    script = os.path.join(REPO, "scripts", "test-servers.py")
    out = subprocess.run([sys.executable, script, "start", name, workdir, "--watch-pid",
                          str(os.getpid())], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        pytest.fail(f"test-servers.py start {name}: {out.stderr[-3000:]}")
    return json.loads(out.stdout)


def stop_real_server(workdir):
    script = os.path.join(REPO, "scripts", "test-servers.py")
    subprocess.run([sys.executable, script, "stop", workdir], timeout=120)
