#!/usr/bin/env python3
"""Timed reads for scripts/bench.sh, and the files it serves.

Every timed command prints `MILLISECONDS SHA256`, the digest of all the bytes it read, so the
caller can check them against the same command run on the source file.

  bench_io.py make-tree DIR                   the served files (see make_tree)
  bench_io.py random FILE SIZE COUNT SEED     COUNT preads of 4 KiB at seeded 4 KiB-aligned offsets
  bench_io.py first FILE                      open + the first 4 KiB + close
  bench_io.py http-random URL SIZE COUNT SEED the same ranges over one keep-alive HTTP connection
  bench_io.py http-first URL                  a new connection + a Range request for 4 KiB
"""

import hashlib
import http.client
import os
import random
import sys
import time
import urllib.parse
import uuid

PAGE = 4096


def offsets(size, count, seed):
    rng = random.Random(seed)
    pages = size // PAGE
    return [rng.randrange(pages) * PAGE for _ in range(count)]


def job_id(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def write_random(path, size, rng):
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))


def make_tree(root):
    """jobs/JOB_BIG/big.dat (1 GiB), jobs/JOB_1000/s000.bin.. (1000 files of 1-10 KiB),
    jobs/JOB_100/t00.bin.. (100 such files), root10k/ (10,000 empty job directories).
    Prints the three job ids. Seeded, so every run serves the same bytes."""
    rng = random.Random(20261129)
    big, many, some = job_id(rng), job_id(rng), job_id(rng)
    jobs = os.path.join(root, "jobs")
    for job in (big, many, some):
        os.makedirs(os.path.join(jobs, job))
    with open(os.path.join(jobs, big, "big.dat"), "wb") as f:
        for _ in range(1024):
            f.write(rng.randbytes(1 << 20))
    for i in range(1000):
        write_random(os.path.join(jobs, many, f"s{i:03}.bin"), rng.randint(1024, 10240), rng)
    for i in range(100):
        write_random(os.path.join(jobs, some, f"t{i:02}.bin"), rng.randint(1024, 10240), rng)
    for _ in range(10000):
        os.makedirs(os.path.join(root, "root10k", job_id(rng)))
    print(big, many, some)


def random_reads(path, size, count, seed):
    offs = offsets(size, count, seed)
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        for off in offs:
            digest.update(os.pread(fd, PAGE, off))
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    return elapsed, digest.hexdigest()


def first_page(path):
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    data = os.pread(fd, PAGE, 0)
    os.close(fd)
    elapsed = time.perf_counter() - start
    return elapsed, hashlib.sha256(data).hexdigest()


def get_range(conn, path, off):
    conn.request("GET", path, headers={"Range": f"bytes={off}-{off + PAGE - 1}"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 206 or len(data) != PAGE:
        sys.exit(f"bench_io: range at {off}: HTTP {resp.status}, {len(data)} bytes")
    return data


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80), u.path


def http_random(url, size, count, seed):
    offs = offsets(size, count, seed)
    conn, path = connect(url)
    conn.connect()
    digest = hashlib.sha256()
    start = time.perf_counter()
    for off in offs:
        digest.update(get_range(conn, path, off))
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, digest.hexdigest()


def http_first(url):
    start = time.perf_counter()
    conn, path = connect(url)
    data = get_range(conn, path, 0)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed, hashlib.sha256(data).hexdigest()


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "make-tree":
        return make_tree(args[0])
    if cmd == "random":
        result = random_reads(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "first":
        result = first_page(args[0])
    elif cmd == "http-random":
        result = http_random(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "http-first":
        result = http_first(args[0])
    else:
        sys.exit(__doc__)
    elapsed, digest = result
    print(f"{elapsed * 1000:.3f} {digest}")


if __name__ == "__main__":
    main(sys.argv)
