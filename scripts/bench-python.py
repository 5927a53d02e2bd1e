#!/usr/bin/env python3
"""The cost of reading a job output from Python three ways, in one run against one sample
server on loopback: the `weaver` fsspec filesystem (the Rust core, no mount), a file of
`weaverfs mount` (needs /dev/fuse), and fsspec's own `http` filesystem reading the same href.

    scripts/test-python.sh install      # the venv; then, with the package built into it:
    target/test-servers/venv-python/bin/pip install aiohttp ./python
    target/test-servers/venv-python/bin/python scripts/bench-python.py [--size 1G] [--runs 3]

Measures, each way: a cold 4 KiB read (a new filesystem or a new mount: open, then read 4 KiB
at 512 MiB), and a sequential read of the whole output (1 MiB reads, MB/s). Prints a table;
each figure is the median of --runs runs.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import fsspec

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.environ.get("WEAVERFS_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "weaverfs")
FILES = "1f2e3d4c-5b6a-4978-8a69-5b4c3d2e1f02"
PATH = f"{FILES}/output_big.dat"
CHUNK = 1 << 20


def sequential(f):
    total = 0
    while True:
        piece = f.read(CHUNK)
        if not piece:
            return total
        total += len(piece)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


class Mount:
    def __init__(self, url):
        self.dir = tempfile.mkdtemp()
        subprocess.run([BIN, "mount", url, self.dir, "--log-file", os.devnull], check=True)

    def close(self):
        subprocess.run([BIN, "unmount", self.dir], check=True)
        os.rmdir(self.dir)


def weaver_cold(url, offset):
    fs = fsspec.filesystem("weaver", url=url, skip_instance_cache=True)
    with fs.open(PATH) as f:
        f.seek(offset)
        return len(f.read(4096))


def weaver_seq(url):
    fs = fsspec.filesystem("weaver", url=url, skip_instance_cache=True)
    with fs.open(PATH) as f:
        return sequential(f)


def mount_cold(url, offset):
    m = Mount(url)
    try:
        def read():
            with open(os.path.join(m.dir, PATH), "rb", buffering=0) as f:
                f.seek(offset)
                return len(f.read(4096))
        return timed(read)
    finally:
        m.close()


def mount_seq(url):
    m = Mount(url)
    try:
        def read():
            with open(os.path.join(m.dir, PATH), "rb", buffering=0) as f:
                return sequential(f)
        return timed(read)
    finally:
        m.close()


def http_cold(href, offset):
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    with fs.open(href) as f:
        f.seek(offset)
        return len(f.read(4096))


def http_seq(href):
    fs = fsspec.filesystem("http", skip_instance_cache=True)
    with fs.open(href) as f:
        return sequential(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1G", help="size of the output read (sample server)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    server = subprocess.Popen([BIN, "serve", "sample", "--addr", "127.0.0.1:0",
                               "--big-file-size", args.size], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        href = url.replace("/weaver", "/wpsoutputs") + f"/{FILES}/output_big/big.dat"
        size = fsspec.filesystem("http").info(href)["size"]
        offset = size // 2
        rows = []
        for name, cold, seq in [
            ("weaver fsspec (no mount)", lambda: timed(lambda: weaver_cold(url, offset)),
             lambda: timed(lambda: weaver_seq(url))),
            ("weaverfs mount", lambda: mount_cold(url, offset), lambda: mount_seq(url)),
            ("fsspec http (same href)", lambda: timed(lambda: http_cold(href, offset)),
             lambda: timed(lambda: http_seq(href))),
        ]:
            colds, seqs = [], []
            for _ in range(args.runs):
                t, n = cold()
                assert n == 4096, n
                colds.append(t)
                t, n = seq()
                assert n == size, (n, size)
                seqs.append(t)
            rows.append((name, statistics.median(colds) * 1000,
                         size / statistics.median(seqs) / 1e6))
        print(f"{size >> 20} MiB output, median of {args.runs} runs, loopback sample server")
        print(f"{'reader':<28} {'cold 4 KiB read (ms)':>22} {'sequential (MB/s)':>18}")
        for name, cold_ms, mbs in rows:
            print(f"{name:<28} {cold_ms:>22.1f} {mbs:>18.0f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    sys.exit(main())
