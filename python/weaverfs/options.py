"""The options of a filesystem as the core takes them: sizes in bytes (`"256M"` allowed, as on
the command line), durations in seconds (`"30s"`, `"5m"` allowed), headers as (name, value)."""

import os
import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZES = ("cache_size", "block_size", "cache_dir_size")
_DURATIONS = ("listing_ttl", "job_ttl", "active_ttl", "connect_timeout", "read_timeout",
              "retry_max_time")
_PATHS = ("config", "token_file", "cookie_file", "password_file", "netrc_file", "ca_cert",
          "cache_dir")


def size(value, name):
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"{name}: bad size {value!r} (e.g. 256M, 1G, or bytes)")
    shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2).upper()]
    return round(float(m.group(1)) * (1 << shift))


def duration(value, name):
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{name}: bad duration {value!r} (e.g. 30, 0.5, 30s, 5m, 1.5h)")
    scale = {None: 1, "s": 1, "ms": 0.001, "m": 60, "h": 3600}[m.group(2)]
    return float(m.group(1)) * scale


def headers(value):
    """`{"Name": "value"}`, or a list of `"Name: value"` strings or pairs."""
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in value.items()]
    out = []
    for h in value:
        if isinstance(h, str):
            name, sep, v = h.partition(":")
            if not sep:
                raise ValueError(f"header {h!r} is not `Name: value`")
            out.append((name.strip(), v.strip()))
        else:
            name, v = h
            out.append((str(name), str(v)))
    return out


def for_core(options):
    """The options as `_core.Core` takes them; None values are left out."""
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in _SIZES:
            value = size(value, key)
        elif key in _DURATIONS:
            value = duration(value, key)
        elif key in _PATHS:
            value = os.path.expanduser(os.fspath(value))
        elif key == "headers":
            value = headers(value)
        elif key in ("auth_origins", "site_cache") and isinstance(value, str):
            value = [value]
        out[key] = value
    return out
