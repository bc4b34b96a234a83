"""`mailwizard check --live` against a server the wizard configured from a full answers file.

Inside an isolated namespace: a dummy interface (or lo) carries 192.0.2.10, the server's "public"
address (mail.example.com in nsd); an "outside world" on 127.0.0.3 is an aiosmtpd sink
that nsd names as the MX of example.net, so live.send really delivers there and the
message that arrives is DKIM-verified. Then each failure the tests exist to catch is made
on purpose: opendkim stopped, a wrong password, mynetworks opened wide, the sink down.
"""

from __future__ import annotations

import base64
import json
import mailbox
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import (
    SASL_USER,
    full_answers,
    prepared_namespace,
    publish_example_zone,
    run_wizard,
)

pytestmark = pytest.mark.integration

PUBLIC = "192.0.2.10"
OUTSIDE = "127.0.0.3"
USER = SASL_USER
PASSWORD = "Corr3ct-Horse-Battery-9"
ADMIN = "admin@example.net"
ANSWERS = full_answers()
DMARC = '_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.com"\n'
NET_ZONE = f"""\
$ORIGIN example.net.
$TTL 300
@ IN SOA ns.example.net. hostmaster.example.net. 1 3600 600 86400 300
@ IN NS ns.example.net.
ns IN A 127.0.0.1
@ IN MX 10 mx.example.net.
mx IN A {OUTSIDE}
"""
REVERSE_ZONE = """\
$TTL 300
@ IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300
@ IN NS ns.example.com.
10 IN PTR mail.example.com.
"""
SINK_DIR = "/run/mailwizard-test/sink"
# Its own name in the greeting: one that said mail.example.com would be Postfix itself
# ("mail for example.net loops back to myself").
SINK = f"""
import threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
Controller(Mailbox({SINK_DIR!r}), hostname={OUTSIDE!r}, port=25,
           server_hostname="mx.example.net").start()
threading.Event().wait()
"""


def start_sink(ns: Namespace) -> None:
    ns.run(f"""
        mkdir -p {SINK_DIR}/tmp {SINK_DIR}/new {SINK_DIR}/cur
        cd /
        setsid {shlex.quote(sys.executable)} -c {shlex.quote(SINK)} >{SINK_DIR}.log 2>&1 \
            </dev/null &
        echo $! > {SINK_DIR}.pid
        mw_wait_for 15 bash -c 'exec 3<>/dev/tcp/{OUTSIDE}/25'
    """)


def stop_sink(ns: Namespace) -> None:
    ns.run(f"kill $(cat {SINK_DIR}.pid)\n"
           f"mw_wait_for 10 eval '! (exec 3<>/dev/tcp/{OUTSIDE}/25)'")


@contextmanager
def live_server() -> Iterator[Namespace]:
    """The server the full answers file made, nsd serving example.com (its "public" address,
    the DKIM record, SPF, DMARC) and example.net, the outside world's sink running.

    Also what ``benchmarks/live_checks.py`` measures on."""
    # Loopback and the public address, as on a real server: 127.0.0.3:25 stays free for the
    # outside world's sink (and refuses when it is down).
    with prepared_namespace(public=PUBLIC, tls=False, xclient=True, dkim_via_nsd=True,
                            postconf=[f"inet_interfaces = 127.0.0.1, {PUBLIC}"]) as namespace:
        namespace.run(f"mw_nsd {shlex.quote(NET_ZONE)} example.net")
        answers = namespace.tmp / "all.toml"
        answers.write_text(ANSWERS)
        result = run_wizard(namespace, "apply", str(answers),
                            env=f"MAILWIZARD_PASSWORD_POSTMASTER={shlex.quote(PASSWORD)}")
        assert result.returncode == 0, result.stdout
        publish_example_zone(namespace, PUBLIC, DMARC)
        namespace.run(f"mw_nsd {shlex.quote(REVERSE_ZONE)} 2.0.192.in-addr.arpa")
        start_sink(namespace)
        yield namespace


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with live_server() as namespace:
        yield namespace


def check_live(ns: Namespace, *extra: str, password: str = PASSWORD,
               json_out: bool = True) -> tuple[int, Any]:
    args = ["check", "--live", "--to", ADMIN, "--user", USER, "--nameserver", "127.0.0.1",
            *extra]
    if json_out:
        args.append("--json")
    result = run_wizard(ns, *args, env=f"MAILWIZARD_PASSWORD={shlex.quote(password)}",
                        timeout=300)
    (ns.tmp / "check.out").write_text(result.stdout)
    assert PASSWORD not in result.stdout
    assert base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode() not in result.stdout
    if not json_out:
        return result.returncode, result.stdout
    start = result.stdout.index("{")
    data = json.loads(result.stdout[start:])
    return result.returncode, {c["id"]: c for c in data["checks"]}


def verify_sink_dkim(ns: Namespace) -> list[bool]:
    """dkimpy on every message that reached the outside world, against nsd."""

    def verify() -> list[bool]:
        import dkim
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]

        def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
            return b"".join(b"".join(r.strings) for r in answer)

        box = mailbox.Maildir(SINK_DIR, create=False)
        return [bool(dkim.verify(box.get_bytes(k).replace(b"\n", b"\r\n"), dnsfunc=dnsfunc))
                for k in box.iterkeys()]

    return ns.call(verify)


def test_every_live_test_passes_on_the_configured_server(ns: Namespace) -> None:
    code, text = check_live(ns, json_out=False)
    assert code == 0, text
    assert "live tests took" in text
    code, checks = check_live(ns)
    assert code == 0, json.dumps(checks, indent=1)
    # The DNS and configuration report comes first (the blocklist cannot be asked here).
    assert checks["dns.ptr"]["status"] == "pass" and checks["config.relay"]["status"] == "pass"
    assert {k: v["status"] for k, v in checks.items() if k.startswith("live.")} == {
        "live.receive": "pass", "live.send": "pass", "live.auth": "pass",
        "live.relay": "pass", "live.dkim": "pass", "live.spf": "pass",
    }, json.dumps(checks, indent=1)
    receive = checks["live.receive"]
    texts = [line["text"] for line in receive["transcript"]]
    assert f"connecting to {PUBLIC}:25" in texts
    assert any(t.startswith("220 mail.example.com ESMTP") for t in texts)
    assert "found the message in mwadmin's mailbox" in texts
    auth = checks["live.auth"]
    kinds = [line["kind"] for line in auth["transcript"]]
    assert "tls" in kinds
    assert "AUTH PLAIN ••••••" in [line["text"] for line in auth["transcript"]]
    assert "Received-SPF: pass" in " ".join(line["text"] for line in
                                            checks["live.spf"]["transcript"])
    assert "softfail" in checks["live.spf"]["detail"]
    assert "Relay access denied" in checks["live.relay"]["found"]
    assert "mx.example.net[127.0.0.3]:25" in checks["live.send"]["detail"]
    results = verify_sink_dkim(ns)
    assert results and all(results), results


def test_the_swaks_commands_shown_repeat_the_sessions(ns: Namespace) -> None:
    """The command is a lesson: run as shown (the password from swaks' environment)."""
    _, checks = check_live(ns)
    relay = ns.run(f"{checks['live.relay']['command']} 2>&1", check=False).stdout
    assert "Relay access denied" in relay, relay
    auth = ns.run(f"SWAKS_OPT_auth_password={shlex.quote(PASSWORD)} "
                  f"{checks['live.auth']['command']} 2>&1", check=False).stdout
    assert "235 2.7.0 Authentication successful" in auth and PASSWORD not in auth, auth


def test_opendkim_stopped_fails_live_dkim(ns: Namespace) -> None:
    ns.run("kill $(cat /run/opendkim/opendkim.pid)\n"
           "mw_wait_for 10 eval '! mw_listening tcp 8891'")
    try:
        code, checks = check_live(ns)
        log = ns.run("grep -i milter $(mw_maillog) | tail -5 || true").stdout
    finally:
        ns.run("opendkim -x /etc/opendkim.conf\nmw_wait_port 8891")
    assert code == 1
    dkim = checks["live.dkim"]
    assert dkim["status"] == "fail", dkim
    assert "not signed" in dkim["detail"] and "opendkim" in dkim["detail"]
    assert any("milter" in line["text"].lower() for line in dkim["transcript"]), log
    assert checks["live.receive"]["status"] == "pass"


def test_wrong_password_fails_live_auth_as_a_wrong_password(ns: Namespace) -> None:
    code, checks = check_live(ns, password="wrong-password-123")
    assert code == 1
    auth = checks["live.auth"]
    assert auth["status"] == "fail" and auth["detail"].startswith("Wrong password for")
    assert "535" in auth["found"]
    assert "wrong-password-123" not in (ns.tmp / "check.out").read_text()


def test_mynetworks_opened_wide_is_an_open_relay(ns: Namespace) -> None:
    ns.run("postconf -e 'mynetworks = 0.0.0.0/0'\nmw_backdate_main_cf\npostfix reload")
    try:
        code, checks = check_live(ns)
    finally:
        ns.run("postconf -e 'mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128'\n"
               "mw_backdate_main_cf\npostfix reload")
    assert code == 1
    relay = checks["live.relay"]
    assert relay["status"] == "fail"
    assert relay["detail"].startswith("OPEN RELAY: anyone can send spam through this server")
    assert f"includes {PUBLIC} (0.0.0.0/0)" in relay["detail"]


def test_sink_down_live_send_reports_deferred_with_the_reason(ns: Namespace) -> None:
    stop_sink(ns)
    try:
        code, checks = check_live(ns)
    finally:
        start_sink(ns)
    assert code == 1
    send = checks["live.send"]
    assert send["status"] == "fail", send
    assert "(deferred)" in send["detail"] and "Connection refused" in send["detail"], send
    assert any(line["text"].startswith("log: ") and "status=deferred" in line["text"]
               for line in send["transcript"])
