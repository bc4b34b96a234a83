"""The TUI end to end on real daemons: the pilot drives the app inside a namespace with the
real runner (tests/integration/tui_driver.py): hub → Hostname → review → apply → hub, against
the running Postfix; then a `postfix check` that fails mid-apply shows the restore on screen."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import PROJECT

pytestmark = pytest.mark.integration

FILES = "/etc/hostname /etc/mailname /etc/hosts /etc/postfix/main.cf"


def drive(ns: Namespace, fqdn: str, path_prefix: str = "") -> dict[str, Any]:
    env = f"PATH={shlex.quote(path_prefix)}:$PATH " if path_prefix else ""
    result = ns.run(f"cd {shlex.quote(str(PROJECT))}\n{env}{shlex.quote(sys.executable)} "
                    f"-m tests.integration.tui_driver {shlex.quote(fqdn)}", timeout=240)
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def banner(ns: Namespace) -> str:
    return ns.run("swaks --server 127.0.0.1 --quit-after EHLO 2>&1", check=False).stdout


def test_tui_apply_on_real_postfix_then_a_fault_is_restored_on_screen() -> None:
    with Namespace(hostname="old.example.org") as ns:
        ns.run("postconf -e myhostname=old.example.org")
        ns.boot()
        # A session first: its smtpd stays idle on the old configuration until a reload.
        assert "220 old.example.org ESMTP" in banner(ns)
        shown = drive(ns, "mail.example.com")
        assert str(shown["hub_before"]).startswith("old.example.org"), shown
        assert shown["step"] == "HostnameScreen", shown
        assert "+myhostname = mail.example.com" in shown["review_diff"], shown
        assert shown["ok"] is True, shown
        assert "✔ Applied" in shown["outcome"], shown
        assert any("reload postfix" in line for line in shown["log"]), shown["log"]
        assert shown["hub_after"] == ["ok", "mail.example.com"], shown
        # Live, not just files: the running smtpd and the running host name.
        assert "220 mail.example.com ESMTP" in banner(ns)
        assert ns.run("hostname").stdout.strip() == "mail.example.com"

        # A fault mid-apply: files written, then `postfix check` fails.
        before = ns.run(f"sha256sum {FILES}").stdout
        shim = f"{ns.tmp}/shim"
        ns.run(f"mkdir -p {shim}; printf '%s\\n' '#!/bin/sh' "
               "'[ \"$1\" = check ] && { echo \"postfix: fatal: injected fault\" >&2; exit 1; }' "
               f"'exec /usr/sbin/postfix \"$@\"' > {shim}/postfix; chmod +x {shim}/postfix")
        failed = drive(ns, "relay.example.com", path_prefix=shim)
        assert failed["ok"] is False, failed
        assert "✖ Failed: postfix check" in failed["outcome"], failed
        assert "injected fault" in failed["outcome"], failed
        assert "All files restored" in failed["outcome"], failed
        assert failed["hub_after"] == ["ok", "mail.example.com"], failed
        assert ns.run(f"sha256sum {FILES}").stdout == before
        assert "220 mail.example.com ESMTP" in banner(ns)
        assert ns.run("hostname").stdout.strip() == "mail.example.com"

        # A restore that itself fails: the fault also puts a directory where /etc/mailname
        # was, so putting the old file back fails. The screen must not say "All files
        # restored" but "NOT every file could be restored" (as the CLI does); its log
        # names the file; every other file is back, the old config live.
        others = "/etc/hostname /etc/hosts /etc/postfix/main.cf"
        before = ns.run(f"sha256sum {others}").stdout
        ns.run(f"printf '%s\\n' '#!/bin/sh' 'if [ \"$1\" = check ]; then' "
               "'  rm -f /etc/mailname; mkdir /etc/mailname' "
               "'  echo \"postfix: fatal: injected fault\" >&2; exit 1' 'fi' "
               f"'exec /usr/sbin/postfix \"$@\"' > {shim}/postfix")
        broken = drive(ns, "relay.example.com", path_prefix=shim)
        assert broken["ok"] is False, broken
        assert "✖ Failed: postfix check" in broken["outcome"], broken
        assert "All files restored" not in broken["outcome"], broken
        assert "NOT every file could be restored" in broken["outcome"], broken
        assert "/var/backups/mailwizard/" in broken["outcome"], broken
        log = "\n".join(broken["log"])
        assert "could not restore /etc/mailname" in log, log
        assert "some files could not be restored" in log, log
        assert ns.run(f"sha256sum {others}").stdout == before
        assert ns.run("test -d /etc/mailname", check=False).returncode == 0
        assert "220 mail.example.com ESMTP" in banner(ns)
        assert ns.run("hostname").stdout.strip() == "mail.example.com"
