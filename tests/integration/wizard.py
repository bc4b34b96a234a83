"""Running this checkout's mailwizard inside a test namespace."""

from __future__ import annotations

import json
import mailbox
import shlex
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.nsenv import Namespace

PROJECT = Path(__file__).resolve().parents[2]
INITS = ("no-init", "systemd")
"""The two paths of services.py a scenario runs on: ``Namespace(systemd=INIT == "systemd")``."""
SASL_USER = "postmaster@example.com"
# The answers files' sections, shared by the scenarios that write their own.
HOSTNAME_SECTION = '[hostname]\nfqdn = "mail.example.com"\n'
SPF_SECTION = '[spf]\nrecord = "v=spf1 mx ~all"\ncheck_incoming = true\n'
DMARC_SECTION = '[dmarc]\npolicy = "none"\nrua = "postmaster@example.com"\n'


def domains_section(*mydestination: str) -> str:
    """[domains] with ``mydestination`` and loopback as mynetworks."""
    return (f"[domains]\nmydestination = {json.dumps(list(mydestination))}\n"
            'mynetworks = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"]\n')


def dkim_section(selector: str = "mail") -> str:
    return f'[dkim]\ndomain = "example.com"\nselector = "{selector}"\nbits = 2048\n'


# An answers file with every section, its password in $MAILWIZARD_PASSWORD_POSTMASTER.
_FULL_ANSWERS = "\n".join([
    HOSTNAME_SECTION,
    domains_section("$myhostname", "example.com", "localhost.example.com", "localhost"),
    '[aliases]\nroot = ["mwadmin"]\n{extra_aliases}\n[tls]\nsnakeoil = true\n',
    '[[sasl.users]]\nuser = "{user}"\npassword_env = "MAILWIZARD_PASSWORD_POSTMASTER"\n',
    SPF_SECTION, dkim_section(), DMARC_SECTION,
])


def full_answers(extra_aliases: str = "") -> str:
    """The answers file with every section (``extra_aliases``: more lines under [aliases])."""
    return _FULL_ANSWERS.format(user=SASL_USER, extra_aliases=extra_aliases)


# The pieces of prepare(): what this machine's Debian has that a fresh server would not
# (a SASL database and DKIM keys; the snakeoil certificate and Postfix's TLS settings) and
# opendkim's TrustAnchorFile, whose root key it cannot fetch inside a namespace.
NO_SNAKEOIL = """\
rm -f /etc/ssl/certs/ssl-cert-snakeoil.pem /etc/ssl/private/ssl-cert-snakeoil.key"""
NO_SASL_NO_KEYS = "rm -f /etc/sasldb2 /var/spool/postfix/etc/sasldb2 /etc/dkimkeys/*.private"
NO_TLS_SETTINGS = """\
postconf -X smtpd_tls_cert_file smtpd_tls_key_file smtpd_tls_security_level \\
            smtp_tls_security_level smtpd_tls_chain_files"""
XCLIENT = "postconf -e smtpd_authorized_xclient_hosts=127.0.0.1"
NO_TRUST_ANCHOR = "sed -i '/^TrustAnchorFile/d' /etc/opendkim.conf"
# opendkim uses libunbound, which ignores resolv.conf: test-only.
OPENDKIM_ASKS_NSD = "echo 'Nameservers 127.0.0.1' >> /etc/opendkim.conf"


def prepare(
    ns: Namespace,
    *,
    fresh: bool = True,
    tls: bool = True,
    xclient: bool = False,
    dkim_via_nsd: bool = False,
    postconf: Sequence[str] = (),
    users: Sequence[str] = ("mwadmin",),
) -> None:
    """Make ``ns`` the server a full apply starts from, then boot it.

    Always: the host name file and no TrustAnchorFile. ``fresh``: no SASL database or DKIM
    key. ``tls=False``: no snakeoil certificate and no TLS settings in main.cf. ``xclient``:
    XCLIENT from loopback (swaks speaks as an outside client). ``dkim_via_nsd``: opendkim
    asks nsd on 127.0.0.1. ``postconf``: more ``postconf -e`` settings. ``users``: the
    logins the aliases name."""
    lines = [f"echo {shlex.quote(ns.hostname)} > /etc/hostname"]
    lines += [] if tls else [NO_SNAKEOIL]
    lines += [NO_SASL_NO_KEYS] if fresh else []
    lines += [] if tls else [NO_TLS_SETTINGS]
    lines += [XCLIENT] if xclient else []
    lines += [f"postconf -e {shlex.quote(setting)}" for setting in postconf]
    lines.append(NO_TRUST_ANCHOR)
    lines += [OPENDKIM_ASKS_NSD] if dkim_via_nsd else []
    lines += [f"useradd -M -d /nonexistent -s /usr/sbin/nologin {shlex.quote(user)}"
              for user in users]
    ns.run("\n".join(lines))
    ns.boot()


@contextmanager
def prepared_namespace(
    hostname: str = "mail.example.com",
    *,
    systemd: bool = False,
    public: str | None = None,
    answers: str | None = None,
    **extra: Any,
) -> Iterator[Namespace]:
    """A namespace made ready by :func:`prepare` (``extra``: its options), booted.

    ``public``: the server's "public" address (:func:`add_public_address`), added first.
    ``answers``: written to ``tmp/full.toml``."""
    with Namespace(hostname=hostname, systemd=systemd) as ns:
        if public is not None:
            add_public_address(ns, public)
        prepare(ns, **extra)
        if answers is not None:
            (ns.tmp / "full.toml").write_text(answers)
        yield ns


# Postfix offering STARTTLS with a fresh snakeoil pair (SASL logins need it), example.com local.
SNAKEOIL_TLS = """\
make-ssl-cert generate-default-snakeoil --force-overwrite
postconf -e smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem \\
            smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key \\
            smtpd_tls_security_level=may \\
            'mydestination=$myhostname, example.com, localhost'"""


@contextmanager
def tls_namespace(*, systemd: bool = False, more: str = "") -> Iterator[Namespace]:
    """A booted mail.example.com with :data:`SNAKEOIL_TLS` (then ``more``) and Postfix
    reloaded: where the SASL scenarios start."""
    with Namespace(hostname="mail.example.com", systemd=systemd) as ns:
        ns.boot()
        ns.run(f"{SNAKEOIL_TLS}\n{more}\npostfix reload", timeout=120)
        yield ns


def run_wizard(
    ns: Namespace, *args: str, env: str = "", timeout: float = 240.0
) -> subprocess.CompletedProcess[str]:
    """``python -m mailwizard ARGS`` inside ``ns`` from the checkout, stderr in stdout.

    ``env`` is a shell prefix such as ``PATH=/x:$PATH`` (expanded inside the namespace).
    Never raises for a non-zero exit: the tests assert on the code.
    """
    argv = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "mailwizard", *args))
    return ns.run(f"cd {shlex.quote(str(PROJECT))}\n{env} {argv} 2>&1", timeout=timeout,
                  check=False)


def run_python(ns: Namespace, code: str) -> str:
    """Run Python with the project importable inside ``ns``; its stdout. (``sh`` needs
    threads, which a process that only entered the PID namespace, as ``Namespace.call``'s
    child does, cannot start.)"""
    return ns.run(
        f"cd {shlex.quote(str(PROJECT))}\n{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    ).stdout


def add_public_address(ns: Namespace, address: str) -> None:
    """The server's "public" address, on a dummy interface where the kernel has the module,
    else on lo (scope global either way: what the address detection looks for)."""
    ns.run(f"""
        if ip link add mw0 type dummy 2>/dev/null; then
          ip addr add {address}/32 dev mw0; ip link set mw0 up
        else
          ip addr add {address}/32 dev lo
        fi
    """)


def dkim_record(ns: Namespace, selector: str = "mail") -> tuple[str, str] | None:
    """The DKIM record of ``selector``'s key for example.com: (split, flat), None if no key."""
    found = python_json(ns, "from mailwizard.steps.dkim import public_record\n"
                        "from mailwizard.system import System\n"
                        f"result = public_record(System(), 'example.com', {selector!r})")
    return None if found is None else (found[0], found[1])


def publish_example_zone(ns: Namespace, mail_address: str = "127.0.0.1", more: str = "") -> None:
    """Serve example.com with the DKIM record of the key the apply generated (``more``:
    further zone lines)."""
    record = dkim_record(ns)
    assert record is not None, "no DKIM key for selector mail"
    zone = (
        "$ORIGIN example.com.\n$TTL 300\n"
        "@ IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300\n"
        f"@ IN NS ns.example.com.\nns IN A 127.0.0.1\nmail IN A {mail_address}\n"
        "@ IN MX 10 mail.example.com.\n@ IN TXT \"v=spf1 mx ~all\"\n"
        f"mail._domainkey IN TXT {record[0]}\n{more}"
    )
    ns.run(f"mw_nsd {shlex.quote(zone)} example.com")


def serve_signing_zone(ns: Namespace, records: str) -> None:
    """Serve example.com with its mail host and ``records`` (DKIM), no SPF or DMARC."""
    ns.run("mw_nsd " + shlex.quote(
        "$ORIGIN example.com.\n$TTL 300\n"
        "@ IN SOA ns1 hostmaster 2024010101 3600 600 86400 300\n"
        "@ IN NS ns1\nns1 IN A 127.0.0.1\nmail IN A 127.0.0.1\n@ IN MX 10 mail\n" + records
    ))


def python_json(ns: Namespace, code: str) -> Any:
    """Run mailwizard ``code`` inside ``ns`` (in a process of its own) that sets ``result``;
    return ``result`` through JSON."""
    script = f"import json\n{code}\nprint(json.dumps(result))\n"
    return json.loads(run_python(ns, script).strip().splitlines()[-1])


def delivered(token: str, mbox: str = "/var/mail/root") -> bytes:
    """The message containing ``token`` in ``mbox`` (run with ``Namespace.call``)."""
    box = mailbox.mbox(mbox, create=False)
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        if token.encode() in raw:
            return raw
    raise AssertionError(f"{token} not in {mbox}")


def dkim_verifies(message: bytes) -> bool:
    """dkimpy with its default DNS lookup: resolv.conf -> nsd on 127.0.0.1 (run with
    ``Namespace.call``)."""
    import dkim

    return bool(dkim.verify(message, timeout=5))
