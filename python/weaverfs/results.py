"""`results(url, job)`, as Weaver's client `WeaverClient(url).results(job)` hands them out, but
lazy: literal values as Python values, file outputs as open files read on demand."""

import json
import os


def results(url, job, **options):
    """The outputs of `job` by their name in the tree (`JOB/NAME`, as the mount shows it):
    a literal is its value (JSON-parsed when it parses, else its text), an inline document
    with an extension (`table.csv`) its bytes, a `.json` output the parsed JSON, a file (an
    href) a `WeaverFile` opened lazily, an array or a directory a list of these. `options` are
    those of `WeaverFileSystem`."""
    from .spec import WeaverFileSystem

    fs = WeaverFileSystem(url=url, **options)
    out = {}
    for entry in fs.ls(job, detail=True):
        name = entry["name"].rsplit("/", 1)[-1]
        if name == ".job" or name.startswith("@"):
            continue
        out[name] = _value(fs, entry)
    return out


def _value(fs, entry):
    name = entry["name"]
    if entry["type"] == "directory":
        return [_value(fs, e) for e in fs.ls(name, detail=True)]
    if entry["content"] != "literal":
        return fs.open(name)
    data = fs.cat_file(name)
    ext = os.path.splitext(name.rsplit("/", 1)[-1])[1]
    if ext == ".json":
        return json.loads(data)
    if ext:
        return data
    text = data.decode("utf-8", errors="replace")
    text = text[:-1] if text.endswith("\n") else text
    if "\n" in text:
        # An array of literals: one a line.
        return [_literal(line) for line in text.split("\n")]
    return _literal(text)


def _literal(text):
    try:
        return json.loads(text)
    except ValueError:
        return text
