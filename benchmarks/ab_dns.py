"""A/B of ``mailwizard check`` between two checkouts, in one namespace, with CPU time.

``python -m benchmarks.ab_dns OTHER_CHECKOUT [ROUNDS]`` (OTHER_CHECKOUT e.g. from
``git archive REV | tar -x -C DIR``). The namespace is the live benchmark's (full setup, nsd
serving the complete zone); each round runs the other checkout's report, this one's and one
dnspython query (the benchmark's baseline), order alternating. Wall time and CPU (self and
children, from rusage) per side: on a shared machine the CPU says what the wall time cannot.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

from .live_checks import ONE_QUERY
from .timing import ROOT


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.integration.test_live import live_server

    other, rounds = argv[0], int(argv[1]) if len(argv) > 1 else 9
    py = sys.executable
    check = [py, "-m", "mailwizard", "check", "--nameserver", "127.0.0.1"]
    sides = {f"check in {other}": (other, check), "check here": (str(ROOT), check),
             "one query (MX)": (str(ROOT), [py, "-c", ONE_QUERY, "example.com", "MX"])}
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in sides}
    with live_server() as ns:
        enter = [*ns._nsenter(), "env", f"PATH={ns._env()['PATH']}"]
        for cwd, argv_ in sides.values():  # once, untimed
            subprocess.run([*enter, *argv_], cwd=cwd, capture_output=True)
        for r in range(rounds):
            order = list(sides.items()) if r % 2 else list(reversed(sides.items()))
            for name, (cwd, argv_) in order:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run([*enter, *argv_], cwd=cwd, capture_output=True)
                took = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                times[name][0].append(took)
                times[name][1].append(after.ru_utime + after.ru_stime
                                      - before.ru_utime - before.ru_stime)
    for name, (wall, cpu) in times.items():
        q1, _, q3 = statistics.quantiles(wall, n=4)
        print(f"{name}: wall median {statistics.median(wall) * 1000:.0f} ms "
              f"(IQR {q1 * 1000:.0f}–{q3 * 1000:.0f}), CPU median "
              f"{statistics.median(cpu) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
