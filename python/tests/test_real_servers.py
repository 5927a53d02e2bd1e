"""Against the real pygeoapi and fastprocesses of the Rust suite (tests/servers.rs): every
file of every finished job reads through fsspec exactly as through `weaverfs mount`, and the
raw outputs are the bytes the server itself answers."""

import os
import tempfile
import urllib.request

import fsspec
import pytest

from conftest import mounted, start_real_server, stop_real_server

# Jobs whose single output is the raw `/results` body: (kind, file name).
RAW = [("text", "greeting.txt"), ("binary", "data"), ("large", "data")]


@pytest.fixture(scope="module", params=["pygeoapi", "fastprocesses"])
def real(request):
    with tempfile.TemporaryDirectory() as work:
        manifest = start_real_server(request.param, work)
        try:
            with mounted(manifest["url"]) as where:
                yield manifest, where
        finally:
            stop_real_server(work)


def test_every_output_reads_as_through_the_mount(real):
    manifest, where = real
    fs = fsspec.filesystem("weaver", url=manifest["url"], skip_instance_cache=True)
    compared = 0
    for job in manifest["jobs"]:
        if job["kind"] == "running":
            continue
        for dirpath, dirs, files in os.walk(os.path.join(where, job["id"])):
            rel = os.path.relpath(dirpath, where)
            assert sorted(fs.ls(rel, detail=False)) == sorted(
                f"{rel}/{n}" for n in dirs + files), rel
            for name in files:
                # fastprocesses names its href files anew at each GET of /results.
                if name == "results.json" and rel.endswith(".job"):
                    continue
                with open(os.path.join(dirpath, name), "rb") as f:
                    want = f.read()
                got = fs.cat_file(f"{rel}/{name}")
                assert got == want, f"{manifest['server']} {job['kind']} {rel}/{name}"
                compared += 1
    assert compared > 20


def test_raw_outputs_are_the_servers_bytes(real):
    manifest, _ = real
    fs = fsspec.filesystem("weaver", url=manifest["url"], skip_instance_cache=True)
    for kind, name in RAW:
        for job in (j for j in manifest["jobs"] if j["kind"] == kind):
            url = f"{manifest['url']}/jobs/{job['id']}/results"
            with urllib.request.urlopen(url, timeout=120) as r:
                want = r.read()
            with fs.open(f"{job['id']}/{name}") as f:
                assert f.read() == want, f"{manifest['server']} {kind} {job['id']}/{name}"
