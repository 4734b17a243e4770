#!/usr/bin/env bash
# Installs the external programs some tests drive, when they are missing:
#   kcat  - the console tools' interop tests (internal/cli) read and write with it.
# It installs only as root with apt-get (Debian/Ubuntu); otherwise it says what to
# install by hand and carries on, and the tests that need the program fail naming it.
set -uo pipefail

if command -v kcat >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: kcat is missing and this is not root; install it by hand (apt-get install kcat)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: kcat is missing and apt-get is not available; install kcat by hand" >&2
  exit 0
fi
echo "install-test-deps: installing kcat with apt-get"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat; }; then
  echo "install-test-deps: apt-get could not install kcat; the kcat interop tests will fail" >&2
fi
exit 0
