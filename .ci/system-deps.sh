#!/usr/bin/env bash
# System packages that some integration tests use: Debian's Chromium (the gate UI's browser test), a PostgreSQL
# server (the research log on a server URL) and bubblewrap (the OS sandbox study notebooks run in; without it a run
# refuses unless --isolation none). Installed when missing and this user may (root with apt-get); otherwise the tests
# that need them skip and say why.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} for the browser, PostgreSQL and sandbox tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null) \
    || echo "warning: could not install ${need[*]}; the tests that need them will be skipped"
else
  echo "note: ${need[*]} not installed (installing needs root and apt-get): the tests that need them will be skipped"
fi
exit 0
