"""On a real machine (an isolated namespace): attacks that must be refused.

An open relay by arithmetic (mynetworks that together cover the internet) is refused by
`mailwizard apply`, nothing is written, and an outside client still cannot relay.

The opendkim user owns /etc/dkimkeys and /run/opendkim: it plants `mail.private ->
/etc/shadow`, a dangling `mail.txt`, and a pidfile naming a root process. The DKIM apply
refuses the links (naming them) and leaves /etc/shadow alone; with the links gone it makes
the key, restarts opendkim, and the process the pidfile named is still alive.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import run_wizard

pytestmark = pytest.mark.integration

FILES = ("/etc/hostname", "/etc/mailname", "/etc/hosts", "/etc/postfix/main.cf",
         "/etc/postfix/master.cf")
GOOD = """\
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["$myhostname", "example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::1]/128"]
"""


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with Namespace(hostname="mail.example.com") as namespace:
        namespace.boot()
        namespace.run("postconf -e smtpd_authorized_xclient_hosts=127.0.0.1; postfix reload")
        answers = namespace.tmp / "good.toml"
        answers.write_text(GOOD)
        result = run_wizard(namespace, "apply", str(answers))
        assert result.returncode == 0, result.stdout
        yield namespace


DKIM = GOOD + """
[dkim]
domain = "example.com"
selector = "mail"
bits = 2048
"""


def digests(ns: Namespace) -> str:
    return ns.run("sha256sum " + " ".join(FILES) + "; stat -c '%n %a %U:%G' " +
                  " ".join(FILES)).stdout


def relay_from(ns: Namespace, client: str) -> str:
    """RCPT to a foreign domain as an outside client (XCLIENT, test-only)."""
    return ns.run(f"swaks --server 127.0.0.1 --xclient-addr {client} --quit-after RCPT "
                  "--to someone@foreign.example.net --from probe@example.net 2>&1",
                  check=False).stdout


@pytest.mark.parametrize("nets", [
    '"0.0.0.0/1", "128.0.0.0/1"',
    '"0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"',
    '"[::]/1", "[8000::]/1"',
    ", ".join(f'"{a}.0.0.0/8"' for a in range(11, 20)),
])
def test_open_relay_by_arithmetic_is_never_applied(ns: Namespace, nets: str) -> None:
    before = digests(ns)
    answers = ns.tmp / "open.toml"
    answers.write_text(GOOD.replace('"127.0.0.0/8", "[::1]/128"', f'"127.0.0.0/8", {nets}'))
    result = run_wizard(ns, "apply", str(answers))
    assert result.returncode == 1, result.stdout
    assert "domains.mynetworks" in result.stdout and "open relay" in result.stdout, result.stdout
    assert digests(ns) == before
    assert "0.0.0.0/1" not in ns.run("postconf -h mynetworks").stdout
    for client in ("8.8.8.8", "198.51.100.7", "11.1.2.3"):
        out = relay_from(ns, client)
        assert "Relay access denied" in out, out


def as_opendkim(ns: Namespace, script: str) -> str:
    return ns.run(f"runuser -u opendkim -- sh -c {shlex.quote(script)}").stdout


def shadow_state(ns: Namespace) -> str:
    return ns.run("sha256sum /etc/shadow; stat -c '%a %U:%G %h' /etc/shadow").stdout


def test_service_user_cannot_get_root_through_dkimkeys(ns: Namespace) -> None:
    ns.run("sed -i -e '/^TrustAnchorFile/d' /etc/opendkim.conf")
    answers = ns.tmp / "dkim.toml"
    answers.write_text(DKIM)
    shadow = shadow_state(ns)
    assert "640 root:shadow" in shadow, shadow

    # 1. mail.private -> /etc/shadow
    as_opendkim(ns, "ln -s /etc/shadow /etc/dkimkeys/mail.private")
    result = run_wizard(ns, "apply", str(answers))
    assert result.returncode == 1, result.stdout
    assert "/etc/dkimkeys/mail.private is a symbolic link (to /etc/shadow)" in result.stdout
    assert shadow_state(ns) == shadow

    # 2. a dangling mail.txt -> a file root would create and opendkim would then own
    as_opendkim(ns, "rm /etc/dkimkeys/mail.private; ln -s /etc/cron.d/mw-evil "
                    "/etc/dkimkeys/mail.txt")
    result = run_wizard(ns, "apply", str(answers))
    assert result.returncode == 1, result.stdout
    assert "/etc/dkimkeys/mail.txt is a symbolic link (to /etc/cron.d/mw-evil)" in result.stdout
    assert ns.run("test -e /etc/cron.d/mw-evil", check=False).returncode == 1

    # 3. a pidfile naming a root process: the restart must not SIGTERM it
    victim = ns.run("setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo $!").stdout.strip()
    ns.run("install -d -o opendkim -g opendkim -m 750 /run/opendkim")
    as_opendkim(ns, f"rm /etc/dkimkeys/mail.txt; echo {victim} > /run/opendkim/opendkim.pid")
    result = run_wizard(ns, "apply", str(answers))
    assert result.returncode == 0, result.stdout
    assert ns.run(f"kill -0 {victim}", check=False).returncode == 0, "the victim was killed"
    key = ns.run("stat -c '%F %a %U:%G' /etc/dkimkeys/mail.private /etc/dkimkeys/mail.txt")
    assert key.stdout == "regular file 600 opendkim:opendkim\n" * 2, key.stdout
    assert ns.run("opendkim -n -x /etc/opendkim.conf", check=False).returncode == 0
    pid = ns.run("cat /run/opendkim/opendkim.pid").stdout.strip()
    assert pid != victim and ns.run(f"readlink /proc/{pid}/exe").stdout.strip() == (
        "/usr/sbin/opendkim")
    assert shadow_state(ns) == shadow
    ns.run(f"kill {victim}")
