"""The configuration checks (`config.*`): what the running server is, read from it.

Blocking (postconf, openssl, a TCP connect): :func:`run_all` runs each in a thread beside
the DNS checks.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from mailwizard import opendkim, postfix, services
from mailwizard.checks import CheckResult
from mailwizard.system import System
from mailwizard.validate import Invalid, network

IDS = ("config.postfix", "config.postconf", "config.opendkim", "config.tls", "config.relay")


def check_postfix(system: System) -> CheckResult:
    if services.postfix_running(system):
        return CheckResult("config.postfix", "pass", "Postfix is running", "running", "running")
    return CheckResult("config.postfix", "fail", "Postfix is not running: start it "
                       "(systemctl start postfix)", "running", "not running")


def check_postconf(system: System) -> CheckResult:
    warnings = postfix.check_config(system)
    if not warnings:
        return CheckResult("config.postconf", "pass", "postconf -n: no warnings",
                           "no warnings", "no warnings")
    return CheckResult("config.postconf", "fail",
                       f"postconf -n: {len(warnings)} warning(s): a misspelt or unused setting",
                       "no warnings", "\n".join(warnings))


def _inet_socket(spec: str) -> tuple[str, int] | None:
    """opendkim's ``Socket inet:8891@127.0.0.1`` as (host, port)."""
    if not spec.startswith("inet"):
        return None
    rest = spec.split(":", 1)[1] if ":" in spec else ""
    port, _, host = rest.partition("@")
    if not port.isdigit():
        return None
    return host or "127.0.0.1", int(port)


def check_opendkim(system: System, timeout: float = 3.0) -> CheckResult:
    milters = postfix.get(system, "smtpd_milters") + " " + postfix.get(system, "non_smtpd_milters")
    if opendkim.MILTER not in milters:
        return CheckResult("config.opendkim", "skip", "DKIM signing is not configured "
                           "(no opendkim milter in smtpd_milters)", "", "")
    if not services.opendkim_running(system):
        return CheckResult("config.opendkim", "fail", "opendkim is not running: mail leaves "
                           "unsigned", "running, answering on its socket", "not running")
    conf = system.read_text(opendkim.CONF) or ""
    spec = opendkim.get(conf, "Socket") or ""
    where = _inet_socket(spec)
    if where is None:
        return CheckResult("config.opendkim", "warn", f"opendkim runs; Socket {spec!r} is not "
                           "an inet socket this check can try", "inet socket", spec)
    try:
        with socket.create_connection(where, timeout=timeout):
            pass
    except OSError as exc:
        return CheckResult("config.opendkim", "fail", f"opendkim runs but does not answer on "
                           f"{where[1]}@{where[0]}: {exc}", f"answering on {spec}",
                           str(exc))
    return CheckResult("config.opendkim", "pass", f"opendkim is running and answers on {spec}",
                       f"answering on {spec}", "answering")


def check_tls(system: System, now: datetime | None = None) -> CheckResult:
    from mailwizard.facts import tls_files
    from mailwizard.steps.tls import check_pair, is_exposure

    cert, key = tls_files(system)
    host = postfix.get(system, "myhostname")
    expected = f"a certificate for {host}, valid for more than 14 days"
    if not cert or "$" in cert:
        return CheckResult("config.tls", "fail", "no certificate: clients cannot use STARTTLS "
                           "(the tls step)", expected, "smtpd_tls_cert_file is not set")
    problems = check_pair(system, cert, key or cert, now=now or datetime.now(UTC))
    # Every problem counts here: a name mismatch or a near expiry is what the check is for.
    # Who else can read the key is a warning here too (a 644 key still works).
    bad = [p for p in problems if not is_exposure(p)]
    if bad:
        return CheckResult("config.tls", "fail", "; ".join(p.message for p in bad), expected,
                           cert)
    if problems:
        return CheckResult("config.tls", "warn", problems[0].message, expected, cert)
    return CheckResult("config.tls", "pass", f"{cert} is valid for {host}", expected, cert)


def check_relay(system: System) -> CheckResult:
    from mailwizard.steps.domains import RELAY_GUARDS

    items = postfix.split_list(postfix.expanded(system, "smtpd_relay_restrictions"))
    expected = "reject_unauth_destination before any permit; mynetworks only trusted hosts"
    found = "smtpd_relay_restrictions = " + " ".join(items)
    guard = next((i for i, item in enumerate(items) if item in RELAY_GUARDS), None)
    if guard is None:
        return CheckResult("config.relay", "fail", "smtpd_relay_restrictions has no "
                           "reject_unauth_destination: strangers could relay (open relay)",
                           expected, found)
    if "permit" in items[:guard]:
        return CheckResult("config.relay", "fail", "'permit' comes before "
                           f"{items[guard]}: everybody may relay", expected, found)
    nets = postfix.split_list(postfix.get(system, "mynetworks"))
    found += "; mynetworks = " + " ".join(nets)
    for net in nets:
        try:
            _value, warnings = network(net)
        except Invalid as exc:
            return CheckResult("config.relay", "fail", f"mynetworks {net}: {exc}", expected,
                               found)
        wide = [w.message for w in warnings if "very wide" in w.message]
        if wide:
            return CheckResult("config.relay", "fail", f"mynetworks: {wide[0]}", expected,
                               found)
        public = [w.message for w in warnings if "public range" in w.message]
        if public:
            return CheckResult("config.relay", "warn", f"mynetworks: {public[0]}", expected,
                               found)
    return CheckResult("config.relay", "pass", f"strangers are refused ({items[guard]}; "
                       "mynetworks is local)", expected, found)


CHECKS: dict[str, Callable[[System], CheckResult]] = {
    "config.postfix": check_postfix, "config.postconf": check_postconf,
    "config.opendkim": check_opendkim, "config.tls": check_tls, "config.relay": check_relay,
}


def safe(id_: str, system: System) -> CheckResult:
    try:
        return CHECKS[id_](system)
    except Exception as exc:  # one broken reading must not hide the other results
        return CheckResult(id_, "fail", f"could not check: {type(exc).__name__}: {exc}", "", "")


def run_sync(system: System, ids: Sequence[str] = IDS) -> list[CheckResult]:
    return [safe(i, system) for i in ids]


async def run_all(system: System, ids: Sequence[str] = IDS) -> list[CheckResult]:
    """Each in a thread of its own, side by side: they wait for postconf, openssl and a
    connect at once (a postconf dump they share still runs once: postfix caches it)."""
    return list(await asyncio.gather(*(asyncio.to_thread(safe, i, system) for i in ids)))
