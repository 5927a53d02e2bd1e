#!/usr/bin/env python3
"""The README's performance table: weaverfs beside the best rclone row, on loopback and through
the emulated long links, from the measures `scripts/bench.sh` wrote.

    bench_summary.py BENCH_TSV BENCH_WAN_TSV README

Rewrites the block between `<!-- bench-summary -->` and `<!-- /bench-summary -->` in README.
Every cell is the median over the runs of one file; a missing measure is "–". Throughput is
in MB/s (10^6 bytes) in every column: the loopback tables of docs/bench.md use MiB/s.
"""
import csv
import statistics
import sys
from collections import defaultdict

START, END = "<!-- bench-summary -->", "<!-- /bench-summary -->"
RCLONES = ("rclone-fast", "rclone-off", "rclone-full")
MIB = 1.048576  # MB per MiB

# (label, loopback measure, WAN measure, unit, bigger is better)
ROWS = [
    ("first 4 KiB, fresh mount", "first_fresh", "first_fresh", "ms", False),
    ("first 4 KiB of a new file, warm mount", "first_warm", "first_warm", "ms", False),
    ("`ls -l` of 1000 outputs, cold", "ls_l_cold", "ls_l_cold", "ms", False),
    ("`cp -r` of 100 small outputs, cold", "cp_cold", "cp_cold", "ms", False),
    ("1 GiB `dd bs=1M`, cold", "seq_dd_cold", "seq_dd_cold", "MB/s", True),
    ("daemon peak RSS during that `dd`", "rss_peak", "rss_peak", "MiB", False),
]


def load(path, keys):
    """{(column, system, measure): [values]} from a bench TSV; keys names the column fields."""
    out = defaultdict(list)
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                try:
                    value = float(row["value"])
                except ValueError:
                    continue
                out[(*(row[k] for k in keys), row["measure"])].append(value)
    except FileNotFoundError:
        pass
    return out


def median(values):
    return statistics.median(values) if values else None


def fmt(value, unit):
    if value is None:
        return "–"
    digits = 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:.{digits}f} {unit}"


def best_rclone(cells, unit_big):
    """The best rclone configuration's median, and its name."""
    found = [(v, s) for s, v in cells.items() if s in RCLONES and v is not None]
    if not found:
        return None
    return max(found) if unit_big else min(found)


def main():
    bench_tsv, wan_tsv, readme = sys.argv[1:4]
    loop = load(bench_tsv, ["system"])
    wan = load(wan_tsv, ["link", "system"])
    links = sorted({k[0] for k in wan}, key=lambda l: (float(l.split("@")[0]), "@" in l))
    columns = [("loopback", None)] + [(link, link) for link in links]

    def cell(column, system, label_measure):
        loop_measure, wan_measure = label_measure
        if column is None:
            v = median(loop.get((system, loop_measure), []))
            if v is not None and loop_measure == "seq_dd_cold":
                v *= MIB
            return v
        return median(wan.get((column, system, wan_measure), []))

    def heading(name):
        if name == "loopback":
            return "loopback"
        rtt, _, cap = name.partition("@")
        return f"RTT {rtt} ms" + (f", {cap.replace('gbit', ' Gbit/s')}" if cap else "")

    lines = [
        "| | " + " | ".join(heading(n) for n, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for label, loop_m, wan_m, unit, big in ROWS:
        ours, theirs = [], []
        for _, column in columns:
            v = cell(column, "weaverfs", (loop_m, wan_m))
            ours.append(fmt(v, unit))
            cells = {s: cell(column, s, (loop_m, wan_m)) for s in RCLONES}
            best = best_rclone(cells, big)
            theirs.append(fmt(best[0], unit) if best else "–")
        lines.append(f"| {label}: weaverfs | " + " | ".join(ours) + " |")
        lines.append("| … best rclone | " + " | ".join(theirs) + " |")

    with open(readme) as f:
        text = f.read()
    if START not in text or END not in text:
        sys.exit(f"bench_summary: {readme} has no {START} … {END} block")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(readme, "w") as f:
        f.write(head + START + "\n" + "\n".join(lines) + "\n" + END + tail)


if __name__ == "__main__":
    main()
