"""``python -m benchmarks``: every figure as a ratio against a baseline from the same run.

Writes the table to stdout and, with ``--write``, to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys

from . import first_frame
from .timing import HEADER, Figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds per figure")
    parser.add_argument("--only", action="append", default=[],
                        help="run only these parts (first-frame, ...)")
    parser.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    parts = {"first-frame": first_frame.measure}
    figures: list[Figure] = []
    for name, measure in parts.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", file=sys.stderr, flush=True)
        figures.extend(measure(args.rounds))
    print(HEADER)
    for f in figures:
        print(f.row())
    return 0


if __name__ == "__main__":
    sys.exit(main())
