"""``python -m benchmarks``: every figure as a ratio against a baseline from the same run.

Writes the table to stdout and, with ``--write``, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from . import apply_vs_shell, dns_checks, first_frame, inprocess, live_checks
from .timing import HEADER, ROOT, Figure

RESULTS = Path(__file__).with_name("RESULTS.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per figure")
    parser.add_argument("--only", action="append", default=[],
                        help="run only these parts (first-frame, in-process, apply, dns, live)")
    parser.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    parts = {"first-frame": first_frame.measure, "in-process": inprocess.measure,
             "apply": apply_vs_shell.measure, "dns": dns_checks.measure,
             "live": live_checks.measure}
    figures: list[Figure] = []
    load_before = loadavg()
    for name, measure in parts.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        figures.extend(measure(args.rounds))
    table = "\n".join([HEADER, *(f.row() for f in figures)])
    print(table)
    if args.write:
        RESULTS.write_text(report(table, args, load_before))
        print(f"wrote {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    return 0


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return (f"{os.cpu_count()} × {cpu}, {mem_kb / 2**20:.0f} GiB, Linux {platform.release()}, "
            f"Python {platform.python_version()}, Textual {version('textual')}")


def report(table: str, args: argparse.Namespace, load_before: str) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "?"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "# Benchmark results\n\n"
        f"`bash benchmarks/run.sh --rounds {args.rounds} --write` on {when}, commit {commit}.\n\n"
        f"Machine: {machine()}.\n"
        f"Load average before → after: {load_before} → {loadavg()} (a shared machine: "
        "read the ratios, not the milliseconds).\n\n"
        "Every figure is the median over rounds of (figure ÷ baseline), each round timing "
        "both back to back in alternating order; IQR is the spread of those per-round "
        "ratios.\n\n"
        f"{table}\n"
    )


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    sys.exit(main())
