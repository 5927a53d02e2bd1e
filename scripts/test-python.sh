#!/usr/bin/env bash
# The Python package's tests (python/tests, issue 21), in their own venv.
#
#   test-python.sh install   the venv with what the tests need (idempotent; test-deps.sh runs it)
#   test-python.sh run [ARGS]  builds and installs python/ into it (pip install ./python, which
#                            needs cargo), then runs pytest ARGS on python/tests
#
# The venv is $WEAVERFS_TEST_SERVERS/venv-python (default target/test-servers), made with the
# first python3 on PATH (>= 3.9). The tests use the weaverfs binary of the build
# ($CARGO_TARGET_DIR/release/weaverfs, or $WEAVERFS_BIN): build it first.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=${WEAVERFS_TEST_SERVERS:-$repo/target/test-servers}
venv=$cache/venv-python
# fsspec and pytest for the package and its tests; xarray with scipy (NetCDF-3 from file
# objects), netCDF4 (the same file from the mount), pandas and dask for the data stack tests.
packages="maturin>=1.5,<2 pytest fsspec xarray scipy netCDF4 pandas dask"

install() {
  if [ -f "$venv/weaverfs-installed" ] && [ "$(cat "$venv/weaverfs-installed")" = "$packages" ]; then
    return
  fi
  python3 -c 'import sys; assert sys.version_info >= (3, 9), sys.version' ||
    { echo "test-python.sh: the Python package needs python3 >= 3.9" >&2; exit 1; }
  echo "test-python.sh: installing $packages into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $packages
  echo "$packages" > "$venv/weaverfs-installed"
}

run() {
  install
  local target=${CARGO_TARGET_DIR:-$repo/target}
  export WEAVERFS_BIN=${WEAVERFS_BIN:-$target/release/weaverfs}
  # The same target directory as the workspace: the core's dependencies are built once.
  CARGO_TARGET_DIR=$target "$venv/bin/pip" install -q --disable-pip-version-check "$repo/python"
  cd "$repo/python/tests"
  exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
}

case "${1:-}" in
  install) install ;;
  run) shift; run "$@" ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
