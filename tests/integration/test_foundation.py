"""Hostname and domains on a real Postfix in an isolated namespace, driven by `mailwizard apply`.

The machine starts as a fresh Debian install named `debian`. After a headless apply the
server calls itself mail.example.com, receives mail for example.com, a second apply has
nothing to do, and an apply whose command fails leaves every file as it was, byte for byte,
with Postfix still delivering.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import run_wizard

pytestmark = pytest.mark.integration

FILES = ("/etc/hostname", "/etc/mailname", "/etc/hosts", "/etc/postfix/main.cf",
         "/etc/postfix/master.cf")
ANSWERS = """\
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["$myhostname", "example.com", "localhost.example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"]
"""


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    """Postfix running on a machine called `debian`, with Debian's own main.cf."""
    with Namespace(hostname="debian") as namespace:
        namespace.run(
            """
            echo debian > /etc/hostname; echo debian > /etc/mailname
            postconf -e myhostname=debian \
              'mydestination=$myhostname, debian, localhost.localdomain, localhost' \
              smtpd_authorized_xclient_hosts=127.0.0.1
            """
        )
        namespace.boot()
        yield namespace


def mailwizard(ns: Namespace, *args: str, env: str = "") -> tuple[int, str]:
    result = run_wizard(ns, *args, env=env)
    return result.returncode, result.stdout


def digests(ns: Namespace) -> str:
    return ns.run("sha256sum " + " ".join(FILES) + "; stat -c '%n %a %U:%G' " +
                  " ".join(FILES)).stdout


def send_to(ns: Namespace, rcpt: str, marker: str) -> str:
    """Send as an outside client (XCLIENT, allowed for the test only), not from mynetworks."""
    return ns.run(
        f"swaks --server 127.0.0.1 --xclient-addr 192.0.2.10 --xclient-name outside.example.net"
        f" --to {rcpt} --from probe@example.net "
        f"--header 'Subject: {marker}' --body {marker} 2>&1",
        check=False,
    ).stdout


def test_headless_apply_then_mail_arrives_then_nothing_to_do(ns: Namespace) -> None:
    answers = ns.tmp / "answers.toml"
    answers.write_text(ANSWERS)
    # Before: example.com is not ours, so an outside client is refused (no relay).
    before = send_to(ns, "root@example.com", "before-apply")
    assert "Relay access denied" in before and "queued" not in before, before

    rc, out = mailwizard(ns, "apply", str(answers))
    assert rc == 0, out
    assert "+myhostname = mail.example.com" in out and "Applied." in out, out
    assert ns.run("hostname").stdout.strip() == "mail.example.com"
    assert ns.run("cat /etc/hostname /etc/mailname").stdout == "mail.example.com\n" * 2
    assert "127.0.1.1\tmail.example.com mail" in ns.run("cat /etc/hosts").stdout
    assert ns.run("postconf -h myhostname").stdout.strip() == "mail.example.com"

    greeting = ns.run("swaks --server 127.0.0.1 --quit-after CONNECT 2>&1", check=False).stdout
    assert "220 mail.example.com ESMTP" in greeting, greeting

    out = send_to(ns, "root@example.com", "after-apply-7731")
    assert "250 2.0.0 Ok: queued" in out, out
    ns.run("mw_wait_mail /var/mail/root after-apply-7731 20")

    rc, again = mailwizard(ns, "apply", str(answers))
    assert rc == 0, again
    assert "Nothing to do" in again, again


def test_failing_command_restores_every_file_and_postfix_still_delivers(ns: Namespace) -> None:
    """A `hostname` that refuses to rename: apply exits 2 and every file is as it was."""
    fake = ns.tmp / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "hostname").write_text(
        '#!/bin/sh\n[ "$#" -eq 0 ] && exec /usr/bin/hostname\n'
        'echo "hostname: you must be root to change the host name" >&2; exit 1\n'
    )
    (fake / "hostname").chmod(0o755)
    answers = ns.tmp / "rename.toml"
    answers.write_text('[hostname]\nfqdn = "mx2.example.com"\n'
                       '[domains]\nmydestination = ["$myhostname", "example.org", "localhost"]\n'
                       'mynetworks = ["127.0.0.0/8"]\n')
    before = digests(ns)
    backups_before = ns.run("ls /var/backups/mailwizard | wc -l").stdout

    rc, out = mailwizard(ns, "apply", str(answers), env=f"PATH={fake}:$PATH")
    assert rc == 2, out
    assert "apply failed at hostname mx2.example.com" in out, out
    assert "you must be root" in out, out
    assert "restored" in out, out
    assert digests(ns) == before
    assert ns.run("hostname").stdout.strip() == "mail.example.com"
    assert ns.run("ls /var/backups/mailwizard | wc -l").stdout != backups_before

    out = send_to(ns, "root@example.com", "after-restore-5150")
    assert "250 2.0.0 Ok: queued" in out, out
    ns.run("mw_wait_mail /var/mail/root after-restore-5150 20")
