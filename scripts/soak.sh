#!/usr/bin/env bash
# A soak of weaverfs: sustained mixed load on one mount of the built-in server, through its
# random fault injection (every transient fault kind at a set rate), with a small cache. Nine
# workers do random preads (around and through the page cache), whole-file reads, listing and
# stat loops, `.job/status.json` and stats reads, and open/close churn; every byte is compared
# with the server's. Reports reads, bytes, errors by errno, false ESTALE, hangs, and the
# daemon's RSS, fds and threads over time (sampled every 2 s). Not a timed test: the figures
# are what a run saw. The engine is tests/soak.rs (CI runs it for a minute).
#   scripts/soak.sh [--minutes N] [--rate P] [--cache SIZE] [--workers N] [--seed N]
# defaults: 10 minutes, 5 % of requests faulted, 8M cache, 9 workers. The JSON report is kept
# in target/soak/ (the path is printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=10 rate=0.05 cache=8M workers=9 seed=$((0x50a45eed))
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--rate P] [--cache SIZE] [--workers N] [--seed N]" >&2; exit 2 ;;
  esac
done
mkdir -p target/soak
report=$PWD/target/soak/soak-$(date -u +%Y%m%dT%H%M%SZ).json
secs=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
SOAK_SECS=$secs SOAK_RATE=$rate SOAK_CACHE=$cache SOAK_WORKERS=$workers SOAK_SEED=$seed \
  SOAK_REPORT=$report cargo test --release --locked --test soak -- --nocapture --test-threads 1
python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
mib = lambda k: r[k]["rss_kib"] / 1024
print(f"{r['seconds']} s, {r['workers']} workers, {r['fault_rate']:.0%} of requests faulted, cache {r['cache']}")
print(f"reads {r['reads']} ({r['bytes'] / 1e9:.1f} GB), of which around the page cache {r['direct_reads']} ({r['direct_bytes'] / 1e9:.1f} GB)")
print(f"wrong {r['wrong']}, false ESTALE {r['false_estale']}, hangs {r['hangs']}")
s = r["mount_stats"]
print(f"mount: {s['requests_total']} requests {s['status_classes']}, {s['retries']} retries, "
      f"{s['bytes_fetched'] / 1e9:.1f} GB fetched, {s['bytes_served'] / 1e9:.1f} GB served, "
      f"{s['cache']['evictions']} evictions, errors {s['errors']}")
print(f"errors by errno {r['errors_by_errno']}; listings {r['listings']}, documents {r['documents']}, opens {r['opens']}")
print(f"faults injected {sum(r['faults_injected'].values())}: {r['faults_injected']}")
for what, unit in (("rss_kib", "RSS MiB"), ("fds", "fds"), ("threads", "threads")):
    scale = 1024 if what == "rss_kib" else 1
    b, p, a = (r[k][what] / scale for k in ("baseline", "peak", "after_close"))
    print(f"{unit}: baseline {b:.0f}, peak {p:.0f}, after the handles closed {a:.0f}")
PY
echo "report: $report"
