#!/usr/bin/env bash
# Lists the views of a root of N jobs through a mount: serves N synthetic jobs from the built-in
# server, mounts it, times `ls` of the root (cold, which builds the views), then `ls` and `ls -l`
# of `@process/echo` and `@status/successful` (N links each) and of every `@date/` day, and prints
# the requests the mount made by kind (from `.weaverfs/stats.json`): listing pages only, none
# per job.
#   scripts/measure-views.sh [N]     (default 100000; WEAVERFS_BIN=path skips the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
bin=${WEAVERFS_BIN:-target/release/weaverfs}
[ -n "${WEAVERFS_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
mnt=$work/mnt
mkdir -p "$mnt"
port=$((20000 + RANDOM % 20000))
cleanup() {
  fusermount3 -uz "$mnt" 2>/dev/null || true
  kill "${server:-}" "${daemon:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve sample --addr "127.0.0.1:$port" --extra-jobs "$n" >"$work/url" 2>/dev/null &
server=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")

# A long listing TTL: one listing for the whole run, so the counts are the views' own.
"$bin" mount "$url" "$mnt" --foreground --listing-ttl 3600 2>"$work/daemon.log" &
daemon=$!
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { cat "$work/daemon.log"; exit 1; }
rss_mib() { awk "/$1/ {printf \"%.1f\", \$2 / 1024}" "/proc/$daemon/status"; }

timed() { # label, command...: prints the seconds and keeps the output in $work/out
  local label=$1 start end
  shift
  start=$(date +%s.%N)
  "$@" >"$work/out"
  end=$(date +%s.%N)
  printf '%-34s %6.2f s  %d lines\n' "$label" "$(echo "$end - $start" | bc -l)" "$(wc -l <"$work/out")"
}
requests() { # the mount's request counts by kind
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["requests"]; print(" ".join("%s=%s" % (k, v["count"]) for k, v in sorted(r.items())))' "$mnt/.weaverfs/stats.json"
}

printf 'daemon RSS mounted, before any listing: %s MiB\n' "$(rss_mib VmRSS)"
timed "ls root (cold: listing + views)" ls -f "$mnt"
echo "requests after the root: $(requests)"
printf 'daemon RSS after the root: %s MiB   peak (VmHWM): %s MiB\n' "$(rss_mib VmRSS)" "$(rss_mib VmHWM)"
timed "ls @process/echo" ls -f "$mnt/@process/echo"
echoes=$(grep -cvx '\.\|\.\.\|@latest' "$work/out")
timed "ls -l @process/echo" ls -l "$mnt/@process/echo"
timed "ls @status/successful" ls -f "$mnt/@status/successful"
timed "ls -l @status/successful" ls -l "$mnt/@status/successful"
timed "ls @date/*/ (every day)" sh -c "ls -f '$mnt'/@date/*/"
timed "readlink @process/echo/@latest" readlink "$mnt/@process/echo/@latest"
echo "requests after the views: $(requests)"
printf 'links in @process/echo: %d (expected %d)\n' "$echoes" "$n"
printf 'daemon RSS now: %s MiB   peak (VmHWM): %s MiB\n' "$(rss_mib VmRSS)" "$(rss_mib VmHWM)"
[ "$echoes" = "$n" ]
