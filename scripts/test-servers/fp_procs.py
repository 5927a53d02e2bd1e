"""The tests' own fastprocesses processes: every shape of result weaverfs must show.

The worker and the API both import this module (the worker runs the processes; the API reads
their result classes to serialise /results)."""

import json
import os
import random
import time
from typing import ClassVar

from fastprocesses.core.base_process import BaseProcess
from fastprocesses.core.models import (
    ProcessDescription,
    ProcessInput,
    ProcessJobControlOptions,
    ProcessOutput,
    ProcessOutputTransmission,
    Schema,
)
from fastprocesses.core.output_protocol import BaseProcessResult
from fastprocesses.processes.process_registry import register_process

MODES = [ProcessJobControlOptions.SYNC_EXECUTE, ProcessJobControlOptions.ASYNC_EXECUTE]
BOTH = [ProcessOutputTransmission.VALUE, ProcessOutputTransmission.REFERENCE]


def pattern(seed: int, size: int) -> bytes:
    """The bytes a binary output holds: the tests compute them too."""
    return random.Random(seed).randbytes(size)


def describe(pid, inputs, outputs):
    return ProcessDescription(
        id=pid,
        title=pid,
        version="1.0.0",
        description=f"weaverfs test process {pid}",
        jobControlOptions=MODES,
        outputTransmission=BOTH,
        inputs={
            k: ProcessInput(title=k, description=k, scheme=Schema(**s))
            for k, s in inputs.items()
        },
        outputs={
            k: ProcessOutput(title=k, description=k, scheme=Schema(**s))
            for k, s in outputs.items()
        },
    )


class TextResult(BaseProcessResult):
    greeting: str
    output_serializers: ClassVar = {"greeting": {"text/plain": "as_text"}}

    def as_text(self) -> bytes:
        return self.greeting.encode()


@register_process("fp_text")
class TextProcess(BaseProcess):
    process_description = describe(
        "fp_text",
        {"name": {"type": "string"}},
        {"greeting": {"type": "string", "contentMediaType": "text/plain"}},
    )

    def execute(self, exec_body, job_progress_callback=None) -> TextResult:
        name = exec_body["inputs"].get("name", "world")
        return TextResult(greeting=f"Hello, {name}!\n")


class BinaryResult(BaseProcessResult):
    # "SEED:SIZE": the bytes are made again when served, so Redis keeps two numbers.
    data: str
    output_serializers: ClassVar = {"data": {"application/octet-stream": "as_bytes"}}

    def as_bytes(self) -> bytes:
        seed, size = self.data.split(":")
        return pattern(int(seed), int(size))


@register_process("fp_binary")
class BinaryProcess(BaseProcess):
    process_description = describe(
        "fp_binary",
        {"size": {"type": "integer"}, "seed": {"type": "integer"}},
        {"data": {"type": "string", "contentMediaType": "application/octet-stream"}},
    )

    def execute(self, exec_body, job_progress_callback=None) -> BinaryResult:
        i = exec_body["inputs"]
        return BinaryResult(data=f'{int(i.get("seed", 1))}:{int(i.get("size", 1000))}')


class JsonResult(BaseProcessResult):
    summary: dict
    output_serializers: ClassVar = {"summary": {"application/json": "as_json"}}

    def as_json(self) -> bytes:
        return json.dumps(self.summary).encode()


@register_process("fp_json")
class JsonProcess(BaseProcess):
    process_description = describe(
        "fp_json",
        {"n": {"type": "integer"}},
        {"summary": {"type": "object", "contentMediaType": "application/json"}},
    )

    def execute(self, exec_body, job_progress_callback=None) -> JsonResult:
        n = int(exec_body["inputs"].get("n", 3))
        return JsonResult(summary={"n": n, "squares": [k * k for k in range(n)], "ok": True})


class ArrayResult(BaseProcessResult):
    values: list
    output_serializers: ClassVar = {"values": {"application/json": "as_json"}}

    def as_json(self) -> bytes:
        return json.dumps(self.values).encode()


@register_process("fp_array")
class ArrayProcess(BaseProcess):
    process_description = describe(
        "fp_array",
        {"n": {"type": "integer"}},
        {"values": {"type": "array", "items": {"type": "integer"}, "contentMediaType": "application/json"}},
    )

    def execute(self, exec_body, job_progress_callback=None) -> ArrayResult:
        n = int(exec_body["inputs"].get("n", 4))
        return ArrayResult(values=list(range(n)))


class SeveralResult(BaseProcessResult):
    message: str
    count: int
    table: str
    output_serializers: ClassVar = {
        "message": {"text/plain": "message_text"},
        "count": {"application/json": "count_json"},
        "table": {"text/csv": "table_csv"},
    }

    def message_text(self) -> bytes:
        return self.message.encode()

    def count_json(self) -> bytes:
        return json.dumps(self.count).encode()

    def table_csv(self) -> bytes:
        return self.table.encode()


@register_process("fp_several")
class SeveralProcess(BaseProcess):
    process_description = describe(
        "fp_several",
        {"n": {"type": "integer"}},
        {
            "message": {"type": "string", "contentMediaType": "text/plain"},
            "count": {"type": "integer", "contentMediaType": "application/json"},
            "table": {"type": "string", "contentMediaType": "text/csv"},
        },
    )

    def execute(self, exec_body, job_progress_callback=None) -> SeveralResult:
        n = int(exec_body["inputs"].get("n", 3))
        rows = "".join(f"{k},{k * k}\n" for k in range(n))
        return SeveralResult(message=f"{n} rows\n", count=n, table=f"k,square\n{rows}")


@register_process("fp_fail")
class FailProcess(BaseProcess):
    process_description = describe(
        "fp_fail",
        {"why": {"type": "string"}},
        {"greeting": {"type": "string", "contentMediaType": "text/plain"}},
    )

    def execute(self, exec_body, job_progress_callback=None) -> TextResult:
        raise RuntimeError(exec_body["inputs"].get("why", "this process always fails"))


@register_process("fp_sleep")
class SleepProcess(BaseProcess):
    process_description = describe(
        "fp_sleep",
        {"seconds": {"type": "number"}},
        {"greeting": {"type": "string", "contentMediaType": "text/plain"}},
    )

    def execute(self, exec_body, job_progress_callback=None) -> TextResult:
        time.sleep(float(exec_body["inputs"].get("seconds", 3600)))
        return TextResult(greeting="woke up\n")
