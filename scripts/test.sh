#!/usr/bin/env bash
# The test command: unit and property tests, kernel-free core tests against the built-in
# server, then real-mount tests, then the Python package's tests (scripts/test-python.sh).
# Installs what the tests need first (scripts/test-deps.sh), runs every test file even when
# one fails, and always ends with one "N passed, N failed" line (Rust and Python together).
#
# The real-mount tests need root (they mount as mount(8) does, and as a second user): run as a
# user, it says so and runs itself as root through sudo, building in target/root so that
# target/ stays yours. As root it changes the machine for the run and says so: a system user
# weaverfs-test and /dev/fuse mode 0666 (for the unprivileged-mount tests); both are undone
# at the end if they were not so before.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/checkout-owner.sh

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    echo "test.sh: the real-mount tests need root; running them through sudo (build in target/root)" >&2
    mkdir -p target
    # The user's PATH (for cargo) with root's sbin dirs (useradd, and what test-deps.sh looks
    # for); root's build and test servers under target/root, so that target/ stays the user's.
    exec sudo env "PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin" \
      "RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}" "RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-}" \
      "CARGO_TARGET_DIR=$PWD/target/root" "WEAVERFS_TEST_SERVERS=$PWD/target/root/test-servers" \
      "$0" "$@"
  fi
  echo "test.sh: the real-mount tests need root, and there is no sudo; run scripts/test.sh as root" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
[ -z "${RUSTUP_TOOLCHAIN:-}" ] && unset RUSTUP_TOOLCHAIN

# A missing dependency fails only the tests that need it (each says what it missed): the
# other test files still run, and the summary still comes.
if ! scripts/test-deps.sh; then
  echo "test.sh: some of what the tests need is missing (above); the tests that need it will fail" >&2
fi

# What the run changes on this machine, undone on exit.
restore=()
if ! id weaverfs-test >/dev/null 2>&1; then
  echo "test.sh: adding system user weaverfs-test for the unprivileged-mount tests (removed at the end)" >&2
  useradd --system --no-create-home --shell /usr/sbin/nologin weaverfs-test
  restore+=("userdel weaverfs-test")
fi
mode=$(stat -c %a /dev/fuse)
if [ "$mode" != 666 ]; then
  echo "test.sh: /dev/fuse is mode $mode; 0666 for the run (users mount through it), $mode again at the end" >&2
  chmod 0666 /dev/fuse
  restore+=("chmod $mode /dev/fuse")
fi
log=$(mktemp)
cleanup() {
  for cmd in "${restore[@]}"; do $cmd || echo "test.sh: could not undo: $cmd" >&2; done
  # What the run made in the checkout (builds, the release, Python caches) is the owner's.
  give_checkout_back target dist python .pytest_cache
  rm -f "$log"
}
trap cleanup EXIT

# The release (dist/) that tests/release.rs checks: built once here, for every test that needs it.
if ! scripts/release.sh; then
  echo "test.sh: scripts/release.sh failed (above); the release tests will fail" >&2
fi

cargo test --workspace --locked --release --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# A test file that did not build or panicked outside a test has no "test result:" line.
broken=$(grep -c '^error: test failed\|^error: could not compile\|^error\[' "$log" || true)

# The Python package (python/tests), against the weaverfs binary just built. A package that
# did not build, or a pytest that could not start, counts as one failure.
pylog=$(mktemp)
scripts/test-python.sh run 2>&1 | tee "$pylog"
pystatus=${PIPESTATUS[0]}
[ "$pystatus" -ne 0 ] && status=$pystatus
# pytest's closing line: "=== 66 passed, 1 failed, 2 errors in 70.1s ===".
read -r py_passed py_failed < <(grep -E '(passed|failed|error).* in [0-9.]+s' "$pylog" | tail -1 |
  awk '{ for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^(failed|error)/) f += $(i-1) } }
       END { print p + 0, f + 0 }')
rm -f "$pylog"
if [ "$pystatus" -ne 0 ] && [ "$py_failed" -eq 0 ]; then py_failed=1; fi

awk -v broken="$broken" -v pp="$py_passed" -v pf="$py_failed" '/^test result:/ {p += $4; f += $6} END {
  if (f == 0 && broken > 0) f = broken; printf "%d passed, %d failed\n", p + pp, f + pf }' "$log"
exit "$status"
