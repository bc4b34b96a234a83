#!/usr/bin/env bash
# Install what the tests need (Debian packages, a venv at .venv), then run every check:
# ruff, mypy, import-linter and the whole pytest suite (integration tests included).
# Needs root on Debian 12. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  postfix sasl2-bin libsasl2-modules db5.3-util opendkim opendkim-tools postfix-policyd-spf-perl
  nsd swaks libnet-ssleay-perl ssl-cert openssl iproute2 procps util-linux mount hostname
  bind9-dnsutils python3-venv tmux systemd dbus
)
PYTHON=${PYTHON:-/usr/bin/python3}
VENV=.venv

phase() { printf '\n==> %s\n' "$*"; }

missing_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || echo "$p"
  done
}

# Install packages without starting any daemon on this machine (policy-rc.d says 101).
install_packages() {
  local -a missing
  mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    phase "packages: all installed"
    return
  fi
  phase "packages: installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || { echo "test.sh: installing packages needs root" >&2; exit 1; }
  local made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=yes
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select Internet Site
postfix postfix/mailname string mail.example.com
SEL
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" </dev/null
  if [ -n "$made_policy" ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
}

# Create (or reuse) .venv and install the project with its test extra when pyproject changed.
install_venv() {
  phase "venv: $VENV"
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.mailwizard-installed" want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    echo "$want" > "$stamp"
  else
    echo "pyproject.toml unchanged: reusing the installed packages"
  fi
}

FAILED=()
check() {
  local name=$1; shift
  phase "$name: $*"
  if ! "$@"; then FAILED+=("$name"); fi
}

install_packages
install_venv
# shellcheck disable=SC1091
source "$VENV/bin/activate"

check ruff ruff check .
check mypy mypy mailwizard screens
check import-linter lint-imports
check pytest pytest -q "$@"

if [ "${#FAILED[@]}" -gt 0 ]; then
  phase "FAILED: ${FAILED[*]}"
  exit 1
fi
phase "all checks passed"
