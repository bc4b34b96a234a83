#!/bin/bash
# Every benchmark in one go; each figure a ratio against a baseline from the same run.
#   bash benchmarks/run.sh [--rounds N] [--only PART] [--write]
# Needs root (namespaces for the apply figure), tmux and hyperfine (installed if missing),
# and the test extra (pytest-benchmark): pip install -e '.[test]'.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hyperfine >/dev/null; then
    apt-get install -y -q hyperfine >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q hyperfine >/dev/null; }
fi
command -v tmux >/dev/null || apt-get install -y -q tmux >/dev/null
python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python3
exec "$python" -m benchmarks "$@"
