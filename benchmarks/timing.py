"""Whole-process timings with hyperfine, alternated with their baseline, and the summary.

Shared machines make absolute times noise; every figure is a ratio against a baseline
timed in the same run. hyperfine runs one round of every command at a time and the
order flips each round, so a burst of load hits both sides alike; each round gives one
ratio (command / baseline), and the figure is the median ratio with its spread.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    """One line of the results: ``name`` took ``ratio`` × its ``baseline``."""

    name: str
    baseline: str
    times: list[float]       # seconds, one per round
    base_times: list[float]  # the baseline's, same rounds
    goal: float | None = None
    note: str = ""
    # The ratio of the mean times instead of the median of the rounds' ratios: for a figure
    # whose two runs in a round are not alike (the apply: each side's pause for main.cf
    # depends on when in the second it wrote it), while over the rounds both sample the same.
    pooled: bool = False

    @property
    def ratios(self) -> list[float]:
        return [t / b for t, b in zip(self.times, self.base_times, strict=True)]

    @property
    def ratio(self) -> float:
        if self.pooled:
            return statistics.fmean(self.times) / statistics.fmean(self.base_times)
        return statistics.median(self.ratios)

    def spread(self) -> str:
        r = sorted(self.ratios)
        if len(r) < 4:
            return f"{r[0]:.2f}–{r[-1]:.2f}"
        q = statistics.quantiles(r, n=4)
        return f"{q[0]:.2f}–{q[2]:.2f}"

    def verdict(self) -> str:
        if self.goal is None:
            return ""
        return "met" if self.ratio <= self.goal else "MISSED"

    def row(self) -> str:
        goal = f"≤ {self.goal}×" if self.goal else ""
        return (f"| {self.name} | {self.baseline} | **{self.ratio:.2f}×** | {self.spread()} "
                f"| {ms(self.times)} | {ms(self.base_times)} | {len(self.times)} "
                f"| {goal} {self.verdict()} | {self.note} |")


HEADER = ("| figure | baseline | ratio (median) | ratio IQR | median | baseline median "
          "| rounds | goal | note |\n|---|---|---|---|---|---|---|---|---|")


def ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.1f} ms"


def hyperfine(commands: list[str], rounds: int, *, prepare: str | None = None,
              warmup: int = 1, ignore_failure: bool = False,
              env: dict[str, str] | None = None) -> list[list[float]]:
    """Each command's times over ``rounds`` rounds, the order reversed every other round."""
    times: list[list[float]] = [[] for _ in commands]
    with tempfile.TemporaryDirectory(prefix="mwbench-") as tmp:
        out = Path(tmp) / "round.json"
        for r in range(-warmup, rounds):
            order = list(range(len(commands)))
            if r % 2:
                order.reverse()
            argv = ["hyperfine", "--style", "none", "--runs", "1", "-N",
                    "--export-json", str(out)]
            if prepare:
                argv += ["--prepare", prepare]
            if ignore_failure:  # e.g. a check that fails, as it must against a silent server
                argv += ["--ignore-failure"]
            argv += [commands[i] for i in order]
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
            if r < 0:
                continue
            results = json.loads(out.read_text())["results"]
            for i, result in zip(order, results, strict=True):
                times[i].extend(result["times"])
    return times


def command(*argv: str | Path) -> str:
    return shlex.join(str(a) for a in argv)


@functools.cache
def bytecode_env() -> dict[str, str]:
    """The environment for timed processes: bytecode compiled once, as after ``pip install``.

    A checkout run with PYTHONDONTWRITEBYTECODE (or a fresh one) would compile every module
    of mailwizard from source at each start; an installed mailwizard never does.
    """
    cache = Path(tempfile.mkdtemp(prefix="mwbench-pycache-"))
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mailwizard"),
                    str(ROOT / "screens"), str(ROOT / "benchmarks")], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return env
