"""Aliases and TLS on a real Postfix in an isolated namespace, driven by `mailwizard apply`.

A fresh machine without the snakeoil pair (so the postfix package set no TLS): after the
apply, the alias map answers both targets, mail to the alias reaches both local mailboxes,
EHLO offers STARTTLS and a TLS handshake completes. The second apply of the same file has
nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import run_python, run_wizard

pytestmark = pytest.mark.integration

HOSTNAME = "mail.example.com"
DOMAIN = "mail.example.com"  # in Debian's mydestination ($myhostname, mail.example.com, ...)
USERS = ("mwalice", "mwbob")
ANSWERS = f"""\
[aliases]
root = ["{USERS[0]}"]
support = ["{USERS[0]}", "{USERS[1]}"]

[tls]
snakeoil = true
"""


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    """Postfix running, no certificate at all, TLS unset in main.cf, two local users."""
    with Namespace(hostname=HOSTNAME) as namespace:
        namespace.boot()
        namespace.run(
            f"""
            rm -f /etc/ssl/certs/ssl-cert-snakeoil.pem /etc/ssl/private/ssl-cert-snakeoil.key
            postconf -X smtpd_tls_cert_file smtpd_tls_key_file smtpd_tls_security_level \\
                        smtp_tls_security_level smtpd_tls_chain_files
            postconf -e 'mydestination=$myhostname, {DOMAIN}, localhost'
            for u in {" ".join(USERS)}; do
              id "$u" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin "$u"
            done
            postfix reload
            """
        )
        yield namespace


def mailwizard(ns: Namespace, *args: str) -> str:
    result = run_wizard(ns, *args)
    assert result.returncode == 0, result.stdout
    return result.stdout


def ehlo(ns: Namespace) -> str:
    return ns.run(
        "swaks --server 127.0.0.1 --quit-after EHLO --helo probe.example.net 2>&1", check=False
    ).stdout


def test_apply_sets_aliases_and_starttls_then_nothing_to_do(ns: Namespace) -> None:
    assert "STARTTLS" not in ehlo(ns), "the fresh set-up must not offer STARTTLS yet"
    assert ns.run("test -e /etc/ssl/certs/ssl-cert-snakeoil.pem", check=False).returncode == 1

    answers = ns.tmp / "answers.toml"
    answers.write_text(ANSWERS)
    out = mailwizard(ns, "apply", str(answers))
    assert "Applied." in out, out
    assert "make-ssl-cert generate-default-snakeoil" in out
    assert "postalias hash:/etc/aliases" in out

    # The map answers both targets (the map was rebuilt).
    got = ns.run("postalias -q support hash:/etc/aliases").stdout.strip()
    assert [t.strip() for t in got.split(",")] == list(USERS)
    assert ns.run("postalias -q root hash:/etc/aliases").stdout.strip() == USERS[0]
    aliases = ns.run("cat /etc/aliases").stdout
    assert aliases.startswith("# See man 5 aliases for format\n")  # hand lines kept

    # Mail to the alias reaches both local mailboxes.
    token = uuid4().hex
    ns.run(
        f"""
        swaks --server 127.0.0.1 --to support@{DOMAIN} --from probe@example.net \\
              --header "Subject: {token}" --body "alias test" >/dev/null
        mw_wait_mail /var/mail/{USERS[0]} {token} 30
        mw_wait_mail /var/mail/{USERS[1]} {token} 30
        """,
        timeout=90,
    )

    # STARTTLS is offered and a handshake completes with the generated snakeoil pair.
    assert "250-STARTTLS" in ehlo(ns) or "250 STARTTLS" in ehlo(ns)
    handshake = ns.run(
        "openssl s_client -starttls smtp -connect 127.0.0.1:25 -brief </dev/null 2>&1",
        timeout=30,
    )
    assert "CONNECTION ESTABLISHED" in handshake.stdout, handshake.stdout
    assert ns.run("postconf -h smtpd_tls_cert_file").stdout.strip() == (
        "/etc/ssl/certs/ssl-cert-snakeoil.pem"
    )
    mode = ns.run("stat -c '%a %U:%G' /etc/ssl/private/ssl-cert-snakeoil.key").stdout.split()
    assert mode == ["640", "root:ssl-cert"]

    # Mail over TLS to the alias works too.
    token = uuid4().hex
    ns.run(
        f"""
        swaks --tls --server 127.0.0.1 --to support@{DOMAIN} --from probe@example.net \\
              --header "Subject: {token}" --body "over tls" >/dev/null
        mw_wait_mail /var/mail/{USERS[1]} {token} 30
        """,
        timeout=90,
    )

    # Same answers again: nothing to write, nothing to run.
    stamp = ns.run("stat -c %Y /etc/aliases /etc/aliases.db /etc/postfix/main.cf").stdout
    again = mailwizard(ns, "apply", str(answers))
    assert "Nothing to do" in again, again
    assert ns.run("stat -c %Y /etc/aliases /etc/aliases.db /etc/postfix/main.cf").stdout == stamp

    # The hub reads both steps as configured.
    script = (
        "from mailwizard.steps import by_name\n"
        "from mailwizard.system import System\n"
        "from mailwizard.steps.tls import tls_configured\n"
        "s = System()\n"
        "print(by_name('aliases').status(s).state, by_name('tls').status(s).state,"
        " tls_configured(s))\n"
    )
    states = run_python(ns, script).split()
    # The snakeoil certificate names the namespace's host name while myhostname is the
    # host's own: a name warning is fine, an error is not.
    assert states[0] == "ok" and states[1] in ("ok", "warn") and states[2] == "True", states
