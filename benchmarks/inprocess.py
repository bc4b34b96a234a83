"""Runs ``test_inprocess.py`` under pytest-benchmark and turns its medians into ratios.

The steps' figures are against one ``postconf -n`` (its runs before and after them,
pooled); the key press while streaming against the same key on the idle apply screen.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .timing import ROOT, Figure


def measure(rounds: int) -> list[Figure]:
    del rounds  # pytest-benchmark's own rounds (set per test)
    with tempfile.TemporaryDirectory(prefix="mwbench-") as tmp:
        out = Path(tmp) / "inprocess.json"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(Path(__file__).with_name("test_inprocess.py")),
                        f"--benchmark-json={out}", "--benchmark-save-data"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        runs = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    base = [t for name, b in runs.items() if name.startswith("test_baseline_postconf_n")
            for t in b["stats"]["data"]]
    base_median = statistics.median(base)
    figures = []
    for name, b in runs.items():
        if not name.startswith("test_keystroke_to_diff["):
            continue
        step = name.split("[", 1)[1].rstrip("]")
        data = b["stats"]["data"]
        figures.append(Figure(
            f"keystroke to diff: {step}", "one `postconf -n`", data, [base_median] * len(data),
            note=f"panel: {b['extra_info'].get('panel', '')}"))
    idle = runs["test_key_on_the_apply_screen_while_idle"]["extra_info"]["latencies"]
    busy = runs["test_key_on_the_apply_screen_while_streaming"]["extra_info"]["latencies"]
    idle_median = statistics.median(idle)
    worst = max(busy)
    p90 = sorted(busy)[int(0.9 * (len(busy) - 1))]
    figures.append(Figure(
        "key press (esc) while 10,000 lines stream into the apply screen",
        "the same key, apply screen idle", busy, [idle_median] * len(busy), goal=None,
        note=(f"key → its action: median {statistics.median(busy) * 1000:.1f} ms, p90 "
              f"{p90 * 1000:.1f} ms, worst {worst * 1000:.1f} ms of {len(busy)} "
              f"(goal ≤ 100 ms: {'met' if worst <= 0.1 else 'MISSED by the worst'})")))
    return figures
