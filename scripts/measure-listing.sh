#!/usr/bin/env bash
# Lists a root of N jobs through a mount: serves N synthetic jobs from the built-in server,
# mounts it, times `ls` (cold and warm), `ls -l` and `find -maxdepth 1`, checks the count and
# that no name repeats, and prints the daemon's peak RSS (VmHWM from /proc/PID/status).
#   scripts/measure-listing.sh [N]     (default 100000; WEAVERFS_BIN=path skips the release build)
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

"$bin" mount "$url" "$mnt" --foreground 2>"$work/daemon.log" &
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
  printf '%-28s %6.2f s  %d lines\n' "$label" "$(echo "$end - $start" | bc -l)" "$(wc -l <"$work/out")"
}

expected=$((n + 16)) # the 13 listed sample jobs and the 3 views
timed "ls (cold)" ls -f "$mnt"
listed=$(grep -cvx '\.\|\.\.' "$work/out")
dups=$(sort "$work/out" | uniq -d | wc -l)
timed "ls (warm)" ls -f "$mnt"
timed "ls -l" ls -l "$mnt"
timed "find -maxdepth 1" find "$mnt" -maxdepth 1
printf 'jobs listed: %d (expected %d), repeated names: %d\n' "$listed" "$expected" "$dups"
printf 'daemon RSS now: %s MiB   peak (VmHWM): %s MiB\n' "$(rss_mib VmRSS)" "$(rss_mib VmHWM)"
[ "$listed" = "$expected" ] && [ "$dups" = 0 ]
