"""The tests' own pygeoapi process plugins: every shape of result weaverfs must show.

Each class is one process; its `execute` returns (media type, outputs) as pygeoapi expects."""

import json
import random
import time

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError


def pattern(seed: int, size: int) -> bytes:
    """The bytes a binary output holds: the tests compute them too."""
    return random.Random(seed).randbytes(size)


def metadata(pid, outputs, inputs=None):
    return {
        "version": "1.0.0",
        "id": pid,
        "title": pid,
        "description": f"weaverfs test process {pid}",
        "jobControlOptions": ["sync-execute", "async-execute"],
        "outputTransmission": ["value"],
        "keywords": ["weaverfs"],
        "links": [],
        "inputs": inputs or {},
        "outputs": outputs,
        "example": {},
    }


def out(media_type, **schema):
    return {"title": "o", "schema": {"type": "string", "contentMediaType": media_type, **schema}}


class _Proc(BaseProcessor):
    META = None

    def __init__(self, processor_def):
        super().__init__(processor_def, self.META)


class TextProcessor(_Proc):
    META = metadata("pg-text", {"greeting": out("text/plain")})

    def execute(self, data, outputs=None):
        return "text/plain", f"Hello, {data.get('name', 'world')}!\n"


class BinaryProcessor(_Proc):
    META = metadata("pg-binary", {"data": out("application/octet-stream")})

    def execute(self, data, outputs=None):
        return "application/octet-stream", pattern(int(data.get("seed", 1)), int(data.get("size", 1000)))


class PngProcessor(_Proc):
    """Two declared outputs: the raw body cannot be named by a single output id."""
    META = metadata("pg-png", {"image": out("image/png"), "thumb": out("image/png")})

    def execute(self, data, outputs=None):
        return "image/png", b"\x89PNG\r\n\x1a\n" + pattern(3, 500)


class JsonProcessor(_Proc):
    META = metadata("pg-json", {"summary": {"title": "s", "schema": {"type": "object"}}})

    def execute(self, data, outputs=None):
        n = int(data.get("n", 3))
        return "application/json", {"n": n, "squares": [k * k for k in range(n)], "ok": True}


class ArrayProcessor(_Proc):
    META = metadata("pg-array", {"values": {"title": "v", "schema": {"type": "array"}}})

    def execute(self, data, outputs=None):
        return "application/json", list(range(int(data.get("n", 4))))


class SeveralProcessor(_Proc):
    """A mapping of its output ids: a results document."""
    META = metadata(
        "pg-several",
        {
            "message": out("text/plain"),
            "count": {"title": "c", "schema": {"type": "integer"}},
            "config": {"title": "c", "schema": {"type": "object", "contentMediaType": "application/json"}},
            "mode": {"title": "m", "schema": {"type": "string", "contentMediaType": "application/json"}},
        },
    )

    def execute(self, data, outputs=None):
        n = int(data.get("n", 3))
        return "application/json", {
            "message": f"{n} rows",
            "count": n,
            "config": {"value": {"a": 1, "b": [1, 2]}, "mediaType": "application/json"},
            "mode": {"value": "sync", "mediaType": "application/json"},
        }


class ReferenceProcessor(_Proc):
    """Outputs by reference: an absolute href and one relative to the results URL."""
    META = metadata(
        "pg-reference",
        {"logo": out("image/png"), "sheet": out("text/css")},
    )

    def execute(self, data, outputs=None):
        base = data["base"]
        return "application/json", {
            "logo": {"href": f"{base}/static/img/logo.png", "type": "image/png"},
            "sheet": {"href": "../../static/css/default.css", "type": "text/css"},
        }


class MultipartProcessor(_Proc):
    META = metadata("pg-multipart", {"message": out("text/plain"), "table": out("text/csv")})

    def execute(self, data, outputs=None):
        b = "wfs-boundary-42"
        body = (
            f"--{b}\r\nContent-Type: text/plain\r\nContent-ID: <message@job>\r\n\r\nparts ahoy\n\r\n"
            f"--{b}\r\nContent-Type: text/csv\r\nContent-ID: <table>\r\n\r\nk,v\n1,2\n\r\n"
            f"--{b}--\r\n"
        )
        return f"multipart/related; boundary={b}", body.encode()


class FailProcessor(_Proc):
    META = metadata("pg-fail", {"never": out("text/plain")})

    def execute(self, data, outputs=None):
        raise ProcessorExecuteError(data.get("why", "this process always fails"))


class SleepProcessor(_Proc):
    META = metadata("pg-sleep", {"greeting": out("text/plain")})

    def execute(self, data, outputs=None):
        time.sleep(float(data.get("seconds", 3600)))
        return "text/plain", "woke up\n"
