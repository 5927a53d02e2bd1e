# Sourced by the scripts that write into the checkout (test.sh, release.sh, install.sh). Run
# as root in someone's checkout (`sudo scripts/test.sh`, su, root in a user's clone), what they
# make there (target/, dist/, caches) belongs to the checkout's owner, not to root, so that the
# user's next build or `git clean` works. Run by the owner, or in root's own checkout, it does
# nothing.

# Gives PATHs (under the checkout, the current directory) to the checkout's owner.
give_checkout_back() {
  [ "$(id -u)" -eq 0 ] || return 0
  local owner path
  owner=$(stat -c %u:%g .)
  [ "${owner%%:*}" != 0 ] || return 0
  for path in "$@"; do
    if [ -e "$path" ] || [ -L "$path" ]; then
      chown -R -h "$owner" "$path" || echo "$(basename "$0"): could not give $path to uid ${owner%%:*}" >&2
    fi
  done
  return 0
}
