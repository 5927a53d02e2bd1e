#!/usr/bin/env python3
"""Real OGC API - Processes servers for weaverfs's tests: pygeoapi and fastprocesses from PyPI.

    test-servers.py install                 venvs into the cache dir (idempotent)
    test-servers.py start SERVER DIR --watch-pid PID
                                            start SERVER (pygeoapi | fastprocesses) on free
                                            127.0.0.1 ports with its state in DIR, submit the
                                            tests' jobs, wait for them, print the manifest (JSON)
    test-servers.py stop DIR                stop what `start` started in DIR

The cache dir is $WEAVERFS_TEST_SERVERS, else target/test-servers beside this script's repo.
A started server stops by itself once the process WATCH-PID is gone (a test binary that ends
or is killed), so no test run leaves servers behind. Only the standard library is used here.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PROCS = os.path.join(HERE, "test-servers")
CACHE = os.environ.get("WEAVERFS_TEST_SERVERS") or os.path.join(REPO, "target", "test-servers")
PACKAGES = {
    "pygeoapi": ["pygeoapi==0.24.*"],
    # kombu's Redis transport imports `packaging` without depending on it.
    "fastprocesses": ["fastprocesses==0.24.*", "packaging"],
}
LARGE = 40 << 20


def log(msg):
    print(f"test-servers: {msg}", file=sys.stderr, flush=True)


def python312():
    """A Python >= 3.12 (pygeoapi 0.24 needs it): $WEAVERFS_PYTHON, PATH, then pyenv's."""
    candidates = [os.environ.get("WEAVERFS_PYTHON", "")]
    candidates += [shutil.which(n) or "" for n in ("python3.13", "python3.12", "python3")]
    candidates += sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python3"), reverse=True)
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")))
    for c in filter(None, candidates):
        try:
            out = subprocess.run([c, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return c
    sys.exit("test-servers: no Python >= 3.12 found for pygeoapi and fastprocesses (tests/servers.rs);"
             " Debian 12's python3 is 3.11: install one (e.g. `pyenv install 3.12`) or set WEAVERFS_PYTHON")


def venv(name):
    return os.path.join(CACHE, f"venv-{name}")


def install():
    os.makedirs(CACHE, exist_ok=True)
    py = None
    for name, pkgs in PACKAGES.items():
        marker = os.path.join(venv(name), "weaverfs-installed")
        want = " ".join(pkgs)
        if os.path.exists(marker) and open(marker).read() == want:
            continue
        py = py or python312()
        log(f"installing {want} into {venv(name)}")
        shutil.rmtree(venv(name), ignore_errors=True)
        subprocess.run([py, "-m", "venv", venv(name)], check=True)
        pip = os.path.join(venv(name), "bin", "pip")
        subprocess.run([pip, "install", "-q", "--disable-pip-version-check", *pkgs], check=True)
        with open(marker, "w") as f:
            f.write(want)
    for tool in ("redis-server",):
        if not shutil.which(tool):
            sys.exit(f"test-servers: {tool} is missing (apt-get install redis-server)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_for(url, what, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            status, _, _ = http("GET", url, headers={"Accept": "application/json"})
            if status < 500:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer {url} within {seconds} s")


def spawn(argv, dir_, name, env):
    out = open(os.path.join(dir_, f"{name}.log"), "ab")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=dir_,
                         start_new_session=True)
    with open(os.path.join(dir_, "pids"), "a") as f:
        f.write(f"{p.pid}\n")
    return p


# The tests' jobs: (kind, process, inputs, request extras). `kind` tells the tests what it is.
def pygeoapi_jobs(base):
    doc = {"response": "document"}
    return [
        ("text", "pg-text", {"name": "pg"}, {}),
        ("binary", "pg-binary", {"size": 1000, "seed": 7}, {}),
        ("large", "pg-binary", {"size": LARGE, "seed": 9}, {}),
        ("two-outputs-raw", "pg-png", {}, {}),
        ("json-object", "pg-json", {"n": 3}, {}),
        ("json-array", "pg-array", {"n": 4}, {}),
        ("several", "pg-several", {"n": 3}, {}),
        ("reference", "pg-reference", {"base": base}, {}),
        ("multipart", "pg-multipart", {}, {}),
        ("failed", "pg-fail", {"why": "bad on purpose"}, {}),
        ("outputs-list", "echo", {"echoInput": "Hello"}, doc),
        ("outputs-list", "hello-world", {"name": "weaverfs"}, doc),
        ("text-document", "pg-text", {"name": "doc"}, doc),
        ("running", "pg-sleep", {"seconds": 3600}, {}),
    ]


def fastprocesses_jobs(base):
    raw, doc = {"response": "raw"}, {"response": "document"}
    ref = {"transmissionMode": "reference"}
    return [
        ("text", "fp_text", {"name": "fp"}, raw),
        ("text-document", "fp_text", {"name": "doc"}, doc),
        ("binary", "fp_binary", {"size": 1000, "seed": 7}, raw),
        ("binary-document", "fp_binary", {"size": 1000, "seed": 7}, doc),
        ("large", "fp_binary", {"size": LARGE, "seed": 9}, raw),
        ("json-object", "fp_json", {"n": 3}, raw),
        ("json-array", "fp_array", {"n": 4}, raw),
        ("multipart", "fp_several", {"n": 3}, raw),
        ("several", "fp_several", {"n": 3}, doc),
        ("reference-raw", "fp_binary", {"size": 1000, "seed": 8}, {**raw, "outputs": {"data": ref}}),
        ("reference", "fp_several", {"n": 5}, {**doc, "outputs": {"table": ref, "message": {}}}),
        ("failed", "fp_fail", {"why": "the input was bad on purpose"}, raw),
        ("running", "fp_sleep", {"seconds": 3600}, raw),
    ]


def start_pygeoapi(dir_, env):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    template = open(os.path.join(PROCS, "pygeoapi-config.yml")).read()
    config = os.path.join(dir_, "pygeoapi-config.yml")
    with open(config, "w") as f:
        f.write(template.replace("@PORT@", str(port)).replace("@DIR@", dir_))
    os.makedirs(os.path.join(dir_, "outputs"), exist_ok=True)
    env.update(PYGEOAPI_CONFIG=config, PYGEOAPI_OPENAPI=os.path.join(dir_, "openapi.yml"))
    bin_ = os.path.join(venv("pygeoapi"), "bin")
    subprocess.run([os.path.join(bin_, "pygeoapi"), "openapi", "generate", config,
                    "--output-file", env["PYGEOAPI_OPENAPI"]], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    serve = ("from pygeoapi.flask_app import APP; "
             f"APP.run(host='127.0.0.1', port={port}, threaded=True)")
    spawn([os.path.join(bin_, "python"), "-c", serve], dir_, "pygeoapi", env)
    wait_for(f"{base}/processes", "pygeoapi")
    return base, pygeoapi_jobs(base)


def start_fastprocesses(dir_, env):
    redis_port, port = free_port(), free_port()
    redis_dir = os.path.join(dir_, "redis")
    files = os.path.join(dir_, "files")
    os.makedirs(redis_dir, exist_ok=True)
    os.makedirs(files, exist_ok=True)
    spawn(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", redis_dir,
           "--save", "", "--appendonly", "no"], dir_, "redis", env)
    for key in ("BROKER", "RESULT"):
        env[f"FP_CELERY_{key}_HOST"], env[f"FP_CELERY_{key}_PORT"] = "127.0.0.1", str(redis_port)
    env["FP_RESULT_CACHE_HOST"], env["FP_RESULT_CACHE_PORT"] = "127.0.0.1", str(redis_port)
    # The large output is made again from two numbers when served; allow it through anyway.
    env["FP_MAX_RESULT_SIZE_BYTES"] = env["FP_MAX_READ_SIZE_BYTES"] = str(256 << 20)
    env["FP_LOG_LEVEL"] = "WARNING"
    env["WEAVERFS_FP_FILES"] = files
    bin_ = os.path.join(venv("fastprocesses"), "bin")
    deadline = time.time() + 30
    while subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                         capture_output=True).returncode != 0:
        if time.time() > deadline:
            raise RuntimeError("redis did not start")
        time.sleep(0.2)
    spawn([os.path.join(bin_, "celery"), "-A", "fp_worker", "worker", "--concurrency", "3",
           "-l", "warning"], dir_, "celery", env)
    spawn([os.path.join(bin_, "uvicorn"), "fp_app:app", "--host", "127.0.0.1", "--port",
           str(port), "--log-level", "warning"], dir_, "fastprocesses", env)
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/processes", "fastprocesses")
    return base, fastprocesses_jobs(base)


def submit(base, jobs):
    """Submits every job asynchronously; returns the manifest entries."""
    out = []
    for kind, process, inputs, extra in jobs:
        body = {"inputs": inputs, **extra}
        status, headers, reply = http("POST", f"{base}/processes/{process}/execution", body,
                                      {"Prefer": "respond-async", "Accept": "application/json"})
        if status not in (200, 201):
            raise RuntimeError(f"{process}: {status} {reply[:300]!r}")
        job = json.loads(reply).get("jobID") or headers.get("Location", "").rsplit("/", 1)[-1]
        out.append({"kind": kind, "process": process, "id": job})
    return out


def settle(base, jobs, seconds=180):
    """Waits until every job but the running ones has finished."""
    deadline = time.time() + seconds
    for job in jobs:
        while True:
            _, _, body = http("GET", f"{base}/jobs/{job['id']}", headers={"Accept": "application/json"})
            state = json.loads(body).get("status")
            job["status"] = state
            if job["kind"] == "running" and state in ("accepted", "running"):
                break
            if state in ("successful", "failed", "dismissed"):
                break
            if time.time() > deadline:
                raise RuntimeError(f"job {job} did not finish within {seconds} s")
            time.sleep(0.2)


def stop(dir_):
    try:
        pids = [int(p) for p in open(os.path.join(dir_, "pids")).read().split()]
    except FileNotFoundError:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    os.unlink(os.path.join(dir_, "pids"))


def watch(dir_, pid):
    """Stops the servers of `dir_` once `pid` is gone."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stop(dir_)
            return
        time.sleep(1)


def start(server, dir_, watch_pid):
    install()
    os.makedirs(dir_, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=PROCS, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    starter = {"pygeoapi": start_pygeoapi, "fastprocesses": start_fastprocesses}[server]
    try:
        base, jobs = starter(dir_, env)
        manifest = submit(base, jobs)
        settle(base, manifest)
    except Exception as e:
        stop(dir_)
        for logf in glob.glob(os.path.join(dir_, "*.log")):
            log(f"--- {logf}\n" + open(logf, errors="replace").read()[-3000:])
        sys.exit(f"test-servers: {server}: {e}")
    if watch_pid and os.fork() == 0:
        os.setsid()
        for fd in (0, 1, 2):
            os.close(fd)
        watch(dir_, watch_pid)
        os._exit(0)
    json.dump({"server": server, "url": base, "jobs": manifest}, sys.stdout)
    print()


def main(argv):
    if argv[:1] == ["install"]:
        install()
    elif argv[:1] == ["start"] and len(argv) >= 3:
        watch_pid = int(argv[argv.index("--watch-pid") + 1]) if "--watch-pid" in argv else 0
        start(argv[1], os.path.abspath(argv[2]), watch_pid)
    elif argv[:1] == ["stop"] and len(argv) == 2:
        stop(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
