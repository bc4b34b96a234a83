"""Profile ``mailwizard`` up to its first frame: ``python benchmarks/profile_first_frame.py``.

Runs the CLI's own start-up under pyinstrument and quits once the hub has been painted;
run it in a real terminal (e.g. a tmux pane), the report goes to the file named as the
first argument (default: first-frame-profile.txt).
"""

from __future__ import annotations

import sys
import time

from pyinstrument import Profiler

START = time.perf_counter()
profiler = Profiler(interval=0.0005)
profiler.start()

import mailwizard.app  # noqa: E402
from mailwizard.cli import main  # noqa: E402

_on_mount = mailwizard.app.MailWizardApp.on_mount


def _on_mount_then_quit(self: mailwizard.app.MailWizardApp) -> None:
    _on_mount(self)
    self.screen.call_after_refresh(self.exit)


mailwizard.app.MailWizardApp.on_mount = _on_mount_then_quit  # type: ignore[method-assign]
main([])
profiler.stop()
out = sys.argv[1] if len(sys.argv) > 1 else "first-frame-profile.txt"
with open(out, "w") as f:
    f.write(f"launch to first frame, wall: {time.perf_counter() - START:.3f} s\n")
    f.write(profiler.output_text(unicode=True, show_all=False))
