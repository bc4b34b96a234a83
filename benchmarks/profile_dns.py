"""Profile ``mailwizard check`` against a local nsd: ``python -m benchmarks.profile_dns [OUT]``.

The namespace is the one ``live_checks`` measures in (full setup applied, nsd serving the
complete zone); the report runs there under pyinstrument, once untimed first. The text
report goes to OUT (default: dns-profile.txt). Needs root.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from .timing import ROOT


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.integration.test_live import live_server

    out = Path(argv[0] if argv else "dns-profile.txt").resolve()
    with live_server() as ns:
        enter = [*ns._nsenter(), "env", f"PATH={ns._env()['PATH']}"]
        check = (argv[1:] or ["-m", "mailwizard", "check", "--nameserver", "127.0.0.1"])
        subprocess.run([*enter, sys.executable, *check], cwd=ROOT, capture_output=True)
        text = ns.tmp / "profile.txt"
        subprocess.run([*enter, sys.executable, "-m", "pyinstrument", "-i", "0.0005",
                        "-o", str(text), *check], cwd=ROOT, stdout=subprocess.DEVNULL)
        out.write_text(text.read_text())
    print(f"wrote {out} ({shlex.join(check)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
