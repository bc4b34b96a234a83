"""`mailwizard rollback` on real daemons: the old configuration is live again, not just on disk.

A namespace named old.example.org gets an apply (hostname mail.example.com, new
mydestination); `rollback` must bring back the files *and* what the running Postfix says: the
banner and EHLO name of a real SMTP session, the running host name, and the old mydestination
refusing mail for example.com again.
"""

from __future__ import annotations

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import run_wizard

pytestmark = pytest.mark.integration

FILES = "/etc/hostname /etc/mailname /etc/hosts /etc/postfix/main.cf"
ANSWERS = """\
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["$myhostname", "example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::1]/128"]
"""


def session(ns: Namespace) -> str:
    """A real SMTP session to the running smtpd from an outside client (XCLIENT, test-only),
    up to RCPT for root@example.com: delivered only while example.com is a local domain."""
    return ns.run("swaks --server 127.0.0.1 --xclient-addr 198.51.100.7 "
                  "--to root@example.com --from probe@example.net "
                  "--quit-after RCPT 2>&1", check=False).stdout


def test_rollback_puts_the_old_configuration_live() -> None:
    with Namespace(hostname="old.example.org") as ns:
        ns.run("postconf -e myhostname=old.example.org 'mydestination=$myhostname, localhost' "
               "smtpd_authorized_xclient_hosts=127.0.0.1")
        ns.boot()
        before_files = ns.run(f"sha256sum {FILES}").stdout
        old = session(ns)
        assert "220 old.example.org ESMTP" in old and "250-old.example.org" in old, old
        assert "Relay access denied" in old, old

        answers = ns.tmp / "a.toml"
        answers.write_text(ANSWERS)
        applied = run_wizard(ns, "apply", str(answers))
        assert applied.returncode == 0, applied.stdout
        new = session(ns)
        assert "220 mail.example.com ESMTP" in new and "250 2.1.5 Ok" in new, new
        assert ns.run("hostname").stdout.strip() == "mail.example.com"

        rolled = run_wizard(ns, "rollback")
        assert rolled.returncode == 0, rolled.stdout
        assert ns.run(f"sha256sum {FILES}").stdout == before_files
        again = session(ns)
        assert "220 old.example.org ESMTP" in again and "250-old.example.org" in again, again
        assert "Relay access denied" in again, again
        assert ns.run("hostname").stdout.strip() == "old.example.org"
        assert ns.run("postconf -h myhostname mydestination").stdout.splitlines() == [
            "old.example.org", "$myhostname, localhost"]
