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
    ("rclone-off", "rclone, cache off"),
    ("rclone-full", "rclone, cache full"),
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
    ("first_cold", "first 4 KiB of a fresh file, cold", "ms", False),
    ("first_warm", "first 4 KiB again, warm", "ms", False),
    ("ls_l_cold", "`ls -l` of 1000 outputs, cold", "ms", False),
    ("ls_l_warm", "`ls -l` of 1000 outputs, warm", "ms", False),
    ("cp_cold", "`cp -r` of 100 small outputs, cold", "ms", False),
    ("cp_warm", "`cp -r` of 100 small outputs, warm", "ms", False),
    ("ls_root_cold", "`ls` of 10,000 jobs, cold", "ms", False),
    ("ls_root_warm", "`ls` of 10,000 jobs, warm", "ms", False),
    ("rss_peak", "daemon peak RSS, dd mount", "MiB", False),
    ("cpu_cold", "daemon CPU, cold dd", "s", False),
]

CHART = [
    ("seq_dd_cold", "1 GiB dd cold, MiB/s", False),
    ("seq_dd_warm", "1 GiB dd warm, MiB/s", False),
    ("random_cold", "2000 random 4 KiB cold, ms (log)", True),
    ("first_cold", "first 4 KiB cold, ms (log)", True),
    ("ls_l_cold", "ls -l 1000 outputs cold, ms (log)", True),
    ("cp_cold", "cp -r 100 outputs cold, ms (log)", True),
    ("ls_root_cold", "ls 10,000 jobs cold, ms (log)", True),
    ("rss_peak", "daemon peak RSS, MiB", False),
]


def load(path):
    values = collections.defaultdict(list)
    checks = collections.defaultdict(lambda: [0, 0])
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            system, measure, value = row["system"], row["measure"], row["value"]
            if measure.startswith("check_"):
                checks[system][0] += value == "ok"
                checks[system][1] += 1
            else:
                values[(system, measure)].append(float(value))
    return values, checks


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


def goals_table(values, cache_budget):
    def m(system, measure):
        return median(values, "weaverfs", measure), median(values, system, measure)

    def ratio(system, measure):
        ours, theirs = m(system, measure)
        return None if ours is None or theirs is None else ours / theirs

    goals = [
        ("cold sequential vs rclone (cache off)", ratio("rclone-off", "seq_dd_cold"), "≥ 2×", lambda r: r >= 2),
        ("cold sequential vs null FUSE", ratio("nullfs", "seq_dd_cold"), "≥ 0.5×", lambda r: r >= 0.5),
        ("warm re-read vs null FUSE", ratio("nullfs", "seq_dd_warm"), "≥ 0.8×", lambda r: r >= 0.8),
        ("2000 random 4 KiB cold, time vs rclone (cache full)", ratio("rclone-full", "random_cold"), "≤ 0.2×", lambda r: r <= 0.2),
        ("2000 random 4 KiB cold, time vs raw keep-alive HTTP", ratio("http", "random_cold"), "≤ 3×", lambda r: r <= 3),
    ]
    rows = [(name, None if r is None else f"{r:.2f}×", target, None if r is None else ok(r))
            for name, r, target, ok in goals]
    absolute = [
        ("first 4 KiB of a fresh file, cold", "first_cold", "ms", 1.0),
        ("`ls -l` of 1000 outputs, cold", "ls_l_cold", "ms", 100.0),
        ("peak RSS on the 1 GiB read", "rss_peak", "MiB", cache_budget + 32),
    ]
    for name, measure, unit, limit in absolute:
        v = median(values, "weaverfs", measure)
        rows.append((name, None if v is None else f"{fmt(v)} {unit}", f"≤ {fmt(limit)} {unit}",
                     None if v is None else v <= limit))
    lines = ["| goal (weaverfs, medians) | measured | target | met |", "|---|---|---|---|"]
    for name, got, target, met in rows:
        verdict = "–" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {got or '–'} | {target} | {verdict} |")
    return "\n".join(lines)


def chart(values, png):
    names = dict(SYSTEMS)
    script = [
        "set terminal pngcairo size 1600,900 font ',10'",
        f"set output '{png}'",
        "set multiplot layout 2,4 title 'weaverfs and its peers on the same nginx files (medians)'",
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
    values, checks = load(results)
    with open(machine) as f:
        machine_text = f.read().strip()
    text = "\n\n".join([
        "Cells: best / median of the runs (best = fastest or smallest). Cold: a fresh mount, page "
        "cache dropped; warm: the same mount again.",
        results_table(values, checks),
        goals_table(values, float(cache_budget)),
        machine_text,
    ]) + "\n"
    print(text)
    with open(f"{out_dir}/bench.md", "w") as f:
        f.write(text)
    chart(values, f"{out_dir}/bench.png")
    print(f"wrote {out_dir}/bench.md, {out_dir}/bench.png")


if __name__ == "__main__":
    main(*sys.argv[1:])
