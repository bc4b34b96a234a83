#!/usr/bin/env bash
# Install mailwizard from this checkout into /opt/mailwizard and start it (Debian 12, as root).
#   bash scripts/install.sh [mailwizard arguments...]
# MAILWIZARD_PREFIX and MAILWIZARD_BINDIR override /opt/mailwizard and /usr/local/bin.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${MAILWIZARD_PREFIX:-/opt/mailwizard}
BINDIR=${MAILWIZARD_BINDIR:-/usr/local/bin}

say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo bash $0)" >&2
  exit 1
fi

packages=()
dpkg-query -W -f='${db:Status-Status}' python3-venv 2>/dev/null | grep -qx installed \
  || packages+=(python3-venv)
command -v git >/dev/null || packages+=(git)
if [ "${#packages[@]}" -gt 0 ]; then
  say "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${packages[@]}" </dev/null
fi

if [ ! -x "$PREFIX/bin/python" ]; then
  say "creating $PREFIX"
  python3 -m venv "$PREFIX"
fi
say "installing mailwizard from $SRC"
"$PREFIX/bin/python" -m pip install -q --upgrade "$SRC"
mkdir -p "$BINDIR"
ln -sfn "$PREFIX/bin/mailwizard" "$BINDIR/mailwizard"
say "installed $BINDIR/mailwizard -> $PREFIX/bin/mailwizard"

if [ -t 0 ] && [ -t 1 ]; then
  exec "$BINDIR/mailwizard" "$@"
fi
echo "No terminal here: start the wizard later, as root, with:  mailwizard"
echo "(or headless: mailwizard apply answers.toml)"
