"""The mount's credential options reach the server, each as the mount sends it. The server is
an in-process one that records what it receives and refuses (403), so every way ends in a
PermissionError after its credentials were seen."""

import base64
import http.server
import os
import threading

import fsspec
import pytest


@pytest.fixture(scope="module")
def recorder():
    seen = []

    class Recording(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = b'{"description": "no"}'
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/weaver", seen
    server.shutdown()


def private(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, 0o600)
    return str(path)


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


CASES = {
    "token": (lambda t, url: {"token": "sekrit"}, "Authorization", "Bearer sekrit"),
    "token_file": (lambda t, url: {"token_file": private(t, "token", "filed\n")},
                   "Authorization", "Bearer filed"),
    "password": (lambda t, url: {"user": "ann", "password": "pw"}, "Authorization",
                 basic("ann", "pw")),
    "password_file": (lambda t, url: {"user": "ann", "password_file": private(t, "pw", "pf\n")},
                      "Authorization", basic("ann", "pf")),
    "netrc_file": (lambda t, url: {"netrc_file": private(
        t, "netrc", "machine 127.0.0.1 login bob password nb\n")}, "Authorization",
        basic("bob", "nb")),
    "cookie_file": (lambda t, url: {"cookie_file": private(
        t, "cookies", "127.0.0.1\tFALSE\t/\tFALSE\t0\tauth_tkt\tcrumb\n")}, "Cookie",
        "auth_tkt=crumb"),
    "headers": (lambda t, url: {"headers": {"X-Trace": "t1"}}, "X-Trace", "t1"),
    "config": (lambda t, url: {"config": private(
        t, "config.toml", f'[servers.here]\nurl = "{url}"\ntoken = "from-config"\n')},
        "Authorization", "Bearer from-config"),
}


@pytest.mark.parametrize("way", sorted(CASES))
def test_credentials_reach_the_server(recorder, tmp_path, way):
    url, seen = recorder
    options, header, value = CASES[way]
    options = options(tmp_path, url)
    source = "here" if way == "config" else url
    seen.clear()
    fs = fsspec.filesystem("weaver", url=source, retries=0, skip_instance_cache=True, **options)
    with pytest.raises(PermissionError):
        fs.ls("")
    assert seen, "no request reached the server"
    assert all(h.get(header.lower()) == value for h in seen), (header, seen)
