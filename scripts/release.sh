#!/usr/bin/env bash
# Builds the release into dist/: weaverfs-VERSION-x86_64-linux.tar.gz (bin/weaverfs, the man
# page, bash/zsh/fish completions, README.md and LICENSE under share/doc/weaverfs/) with
# its .sha256, the .deb and the .rpm. The binary is linked against glibc 2.17 (cargo-zigbuild with
# zig from PyPI), so one build runs on every maintained x86_64 Linux: RHEL/Rocky/Alma 8 (glibc
# 2.28), Ubuntu 20.04 (2.31), Debian 11 (2.31) and newer.
#
# The tools (the versions this was tested with) go under target/release-tools/, not system-wide,
# and are kept there, so a second run costs only the build: a Python venv with ziglang and
# cargo-zigbuild (PyPI wheels), and cargo-deb (`cargo install --locked`, a few minutes once). The .deb comes from
# [package.metadata.deb] in Cargo.toml, the .rpm from packaging/weaverfs.spec (rpmbuild, from
# Debian's `rpm` package) with the name, version, licence and summary of Cargo.toml; both take
# the files this script stages in target/release-stage/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/checkout-owner.sh
trap 'give_checkout_back target dist' EXIT

target_dir=${CARGO_TARGET_DIR:-target}
tools=$(realpath -m "$target_dir/release-tools")
stage=target/release-stage # named in Cargo.toml's package metadata: always under ./target
dist=dist
triple=x86_64-unknown-linux-gnu
glibc=2.17

say() { echo "release.sh: $*" >&2; }

# --- the tools ---------------------------------------------------------------------------------
if [ ! -x "$tools/venv/bin/cargo-zigbuild" ]; then
  say "installing ziglang and cargo-zigbuild from PyPI into $tools/venv"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q --disable-pip-version-check ziglang==0.17.1 cargo-zigbuild==0.24.1
fi
if [ ! -x "$tools/bin/cargo-deb" ]; then
  say "installing cargo-deb into $tools (cargo install --locked; a few minutes, once)"
  cargo install --locked --quiet --root "$tools" cargo-deb@3.8.0
fi
command -v rpmbuild >/dev/null || { say "needs rpmbuild for the .rpm: apt-get install rpm (or dnf install rpm-build)"; exit 1; }
# cargo-zigbuild runs `python3 -m ziglang` with the venv's python; cargo finds the subcommands.
export PATH="$tools/venv/bin:$tools/bin:$PATH"

# --- the binary --------------------------------------------------------------------------------
say "building weaverfs for $triple with glibc $glibc (cargo zigbuild)"
cargo zigbuild --release --locked --quiet --bin weaverfs --target "$triple.$glibc"
bin="$target_dir/$triple/release/weaverfs"

# No dynamic symbol may need a glibc newer than the one we link against; zig's stubs make the
# link fail for most, this catches the rest (a weak symbol, a C library's own import).
newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
if [ "$(printf '%s\n' "GLIBC_$glibc" "$newest" | sort -V | tail -n 1)" != "GLIBC_$glibc" ]; then
  say "$bin needs $newest, newer than glibc $glibc:"
  objdump -T "$bin" | grep -F "$newest" >&2
  exit 1
fi
version=$("$bin" --version | awk '{print $2}')
say "weaverfs $version: newest glibc symbol $newest"

# --- the files every artefact carries ------------------------------------------------------------
rm -rf "$stage"
mkdir -p "$stage"
cp "$bin" README.md LICENSE "$stage/"
"$bin" man | gzip -9n >"$stage/weaverfs.1.gz"
"$bin" completions bash >"$stage/weaverfs.bash"
"$bin" completions zsh >"$stage/_weaverfs"
"$bin" completions fish >"$stage/weaverfs.fish"

mkdir -p "$dist"
rm -f "$dist"/weaverfs-*-x86_64-linux.tar.gz* "$dist"/weaverfs_*.deb "$dist"/weaverfs-*.rpm
# --- the tarball: a prefix layout (bin/, share/) that unpacks into ~/.local or /usr/local as it is
# (`tar -C ~/.local --strip-components=1 -xzf ...`, or scripts/install.sh --from-tarball) -------
name="weaverfs-$version-x86_64-linux"
tree="$stage/$name"
mkdir -p "$tree/bin" "$tree/share/man/man1" "$tree/share/bash-completion/completions" \
  "$tree/share/zsh/site-functions" "$tree/share/fish/vendor_completions.d"
cp "$stage/weaverfs" "$tree/bin/"
cp "$stage/weaverfs.1.gz" "$tree/share/man/man1/"
cp "$stage/weaverfs.bash" "$tree/share/bash-completion/completions/weaverfs"
cp "$stage/_weaverfs" "$tree/share/zsh/site-functions/"
cp "$stage/weaverfs.fish" "$tree/share/fish/vendor_completions.d/"
mkdir -p "$tree/share/doc/weaverfs"
cp README.md LICENSE "$tree/share/doc/weaverfs/"
tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -czf "$dist/$name.tar.gz" "$name"
(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
say "$dist/$name.tar.gz"

# --- the packages --------------------------------------------------------------------------------
cargo deb --no-build --no-strip --quiet --output "$dist/" >/dev/null
field() { cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json, sys; print(next(p for p in json.load(sys.stdin)["packages"] if p["name"] == "weaverfs")[sys.argv[1]])' "$1"; }
rpmbuild -bb --quiet --nodeps packaging/weaverfs.spec \
  --define "_topdir $PWD/$stage/rpmbuild" --define "_rpmdir $PWD/$stage/rpms" \
  --define "stage $PWD/$stage" --define "pkg_name weaverfs" --define "pkg_version $version" \
  --define "pkg_license $(field license)" --define "pkg_summary $(field description)"
mv "$stage"/rpms/*/weaverfs-*.rpm "$dist/"
ls "$dist"/weaverfs_*.deb "$dist"/weaverfs-*.rpm | sed 's/^/release.sh: /' >&2
