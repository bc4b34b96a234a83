"""The hub's catalog (read before any step module is imported) says what the steps say."""

from __future__ import annotations

import subprocess
import sys

from mailwizard.steps import STEPS, by_name
from mailwizard.steps.catalog import ENTRIES, LISTED


def test_catalog_matches_the_steps() -> None:
    assert [tuple(e) for e in ENTRIES] == [
        (s.name, s.title, s.blurb, s.listed, s.available) for s in STEPS]
    assert tuple(s.name for s in STEPS if s.listed) == LISTED


def test_registry_is_one_set_of_steps() -> None:
    assert all(by_name(s.name) is s for s in STEPS)
    assert by_name("dmarc").name == "dmarc"  # a section of the DKIM composite


def test_what_runs_before_the_first_frame_imports_no_step() -> None:
    """The CLI, the app and the hub's module: no step module, validator or step base."""
    code = ("import sys, mailwizard.cli, mailwizard.app, mailwizard.screens; "
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "mailwizard.screens.hub" in loaded
    early = sorted(m for m in loaded if m.startswith("mailwizard.steps.")
                   and m not in ("mailwizard.steps.catalog", "mailwizard.steps.status"))
    assert early == []
    assert not loaded & {"mailwizard.validate", "mailwizard.repair", "sh", "tomllib",
                         "jinja2", "dns", "dkim"}
