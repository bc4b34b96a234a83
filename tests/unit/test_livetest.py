"""The live-test transcript, its masking, the log follower and the sessions' verdicts,
against a real SMTP server (aiosmtpd with STARTTLS and AUTH) on loopback."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailwizard import checks, livetest
from mailwizard.livecontext import LiveContext
from mailwizard.maillog import MailLog, Mark, deliveries, follow
from mailwizard.secret import MASK, Secret
from mailwizard.smtpdialogue import Dialogue, Transcript, mask_client_line, secret_forms
from mailwizard.system import System
from tests.support import SandboxReader, make_sandbox

USER = "postmaster@example.com"
PASSWORD = "Corr3ct-Horse-Battery-9"
LOG = "/var/log/mail-test.log"


def leaks(text: str) -> list[str]:
    return [form for form in secret_forms(USER, Secret(PASSWORD)) if form in text]


# -- masking, pure -----------------------------------------------------------------------


def test_auth_argument_and_answers_to_334_are_masked() -> None:
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert mask_client_line(f"AUTH PLAIN {plain}", after_334=False) == f"AUTH PLAIN {MASK}"
    assert mask_client_line("AUTH LOGIN", after_334=False) == "AUTH LOGIN"
    assert mask_client_line("dXNlcg==", after_334=True) == MASK
    assert mask_client_line("MAIL FROM:<a@b.c>", after_334=False) == "MAIL FROM:<a@b.c>"


def test_transcript_replaces_the_password_and_its_base64_anywhere() -> None:
    seen: list[checks.TranscriptLine] = []
    t = Transcript(sink=seen.append, secrets=secret_forms(USER, Secret(PASSWORD)))
    plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    t.add("server", f"535 no such password {PASSWORD}")
    t.note(f"echo {plain} and {base64.b64encode(PASSWORD.encode()).decode()}")
    text = "\n".join(line.text for line in t.lines)
    assert leaks(text) == []
    assert text.count(MASK) == 3
    assert seen == t.lines  # the sink saw each line as it was added


# -- a real SMTP server ------------------------------------------------------------------


def _cert(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mail.example.com", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@dataclass
class Handler:
    """Queues like Postfix would, and logs the delivery into the sandbox's maillog_file."""

    root: Path
    relay_open: bool = False
    outcome: str = "status=sent (delivered to mailbox)"
    local_user: str = "mwadmin"
    n: int = 0
    messages: list[bytes] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        if not address.endswith("@example.com") and not self.relay_open \
                and not session.authenticated:
            return f"554 5.7.1 <{address}>: Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.n += 1
        qid = f"4F2A81C0D{self.n}"
        raw = envelope.original_content
        self.messages.append(raw)
        rcpt = envelope.rcpt_tos[0]
        local = rcpt.endswith("@example.com")
        with (self.root / "var/mail" / self.local_user).open("ab") as box:
            box.write(b"From mailwizard  Thu Dec  3 06:00:00 2026\n" + raw.replace(b"\r\n", b"\n")
                      + b"\n")
        to = f"{self.local_user}@mail.example.com" if local else rcpt
        orig = f" orig_to=<{rcpt}>," if local else ""
        relay = "local" if local else "mx.example.net[192.0.2.99]:25"

        async def log_later() -> None:  # Postfix logs the delivery a little later
            await asyncio.sleep(0.3)
            with (self.root / LOG.lstrip("/")).open("a") as log:
                log.write(f"Dec  3 06:00:01 mail postfix/qmgr[9]: {qid}: from=<x>, size=1\n")
                log.write(f"Dec  3 06:00:01 mail postfix/local[10]: {qid}: to=<{to}>,{orig} "
                          f"relay={relay}, delay=0.1, dsn=2.0.0, {self.outcome}\n")

        asyncio.get_running_loop().create_task(log_later())
        return f"250 2.0.0 Ok: queued as {qid}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sandbox(tmp_path: Path) -> System:
    root = make_sandbox(tmp_path / "root")
    with (root / "etc/postfix/main.cf").open("a") as f:
        f.write(f"maillog_file = {LOG}\n")
    (root / LOG.lstrip("/")).write_text("")
    return System(root=root, runner=SandboxReader(), reader=SandboxReader())


@pytest.fixture
def server(sandbox: System, tmp_path: Path) -> Iterator[tuple[Controller, Handler]]:
    import ssl

    cert, key = _cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == USER.encode() \
            and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    handler = Handler(sandbox.root)
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(),
                            server_hostname="mail.example.com", tls_context=context,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def ctx_for(system: System, controller: Controller, **kw: Any) -> LiveContext:
    base = LiveContext(
        system=system, server="127.0.0.1", hostname="mail.example.com", domain="example.com",
        postmaster="postmaster@example.com", port=controller.port,
        submission_port=_free_port(),  # nothing there: the auth test falls back to port
        user=USER, password=Secret(PASSWORD), dkim_domain="", dkim_selector="",
        spf_incoming=False, mynetworks=("127.0.0.0/8",), timeout=5.0, send_timeout=5.0,
        log=MailLog(system),
    )
    return replace(base, **kw)


async def test_dialogue_records_every_line_with_tls_and_masks_auth(
    server: tuple[Controller, Handler], sandbox: System,
) -> None:
    controller, _ = server
    t = Transcript(secrets=secret_forms(USER, Secret(PASSWORD)))
    async with Dialogue(t, "127.0.0.1", controller.port, timeout=5) as d:
        banner = await d.connect()
        before = await d.ehlo("client.example")
        await d.starttls()
        after = await d.ehlo("client.example")
        ok = await d.auth_plain(USER, Secret(PASSWORD))
        await d.quit()
    assert banner.code == 220 and before.has_keyword("STARTTLS")
    assert not before.has_keyword("AUTH") and "PLAIN" in after.keyword_args("AUTH")
    assert ok.code == 235
    kinds = [line.kind for line in t.lines]
    assert {"client", "server", "tls", "note"} <= set(kinds)
    assert kinds.index("tls") > [line.text for line in t.lines].index("STARTTLS")
    assert f"AUTH PLAIN {MASK}" in [line.text for line in t.lines]
    times = [line.elapsed for line in t.lines]
    assert times == sorted(times) and times[0] >= 0
    assert leaks("\n".join(line.render() for line in t.lines)) == []


async def test_auth_login_answers_to_334_are_masked(server: tuple[Controller, Handler]) -> None:
    controller, _ = server
    t = Transcript()  # no secret fence: the 334 rule alone must hide them
    async with Dialogue(t, "127.0.0.1", controller.port, timeout=5) as d:
        await d.connect()
        await d.ehlo("client.example")
        await d.starttls()
        await d.ehlo("client.example")
        assert (await d.command("AUTH LOGIN")).code == 334
        assert (await d.command(base64.b64encode(USER.encode()).decode())).code == 334
        reply = await d.command(base64.b64encode(PASSWORD.encode()).decode())
        await d.quit()
    assert reply.code == 235
    client = [line.text for line in t.lines if line.kind == "client"]
    assert client[-3:] == [MASK, MASK, "QUIT"]
    assert leaks("\n".join(line.text for line in t.lines)) == []


async def test_live_auth_right_password_passes_and_json_holds_no_secret(
    server: tuple[Controller, Handler], sandbox: System,
) -> None:
    controller, _ = server
    ctx = ctx_for(sandbox, controller)
    result = await livetest.run_session("live.auth", ctx)
    assert result.status == "pass", result
    assert "submission port" in result.transcript[1].text  # 587 refused: fell back
    out = checks.to_json([result])
    assert leaks(out) == [] and leaks(result.command) == []
    assert json.loads(out)["checks"][0]["transcript"][0]["kind"] == "note"
    assert result.command.startswith("swaks --server") and "--auth-hide-password" in result.command


async def test_live_auth_wrong_password_is_reported_as_wrong_password(
    server: tuple[Controller, Handler], sandbox: System,
) -> None:
    controller, _ = server
    ctx = ctx_for(sandbox, controller, password=Secret("not-the-password"))
    result = await livetest.run_session("live.auth", ctx)
    assert result.status == "fail"
    assert result.detail.startswith("Wrong password for postmaster@example.com")
    assert "535" in result.found
    assert "not-the-password" not in checks.to_json([result])


async def test_live_relay_refused_passes_and_accepted_fails_loudly(
    server: tuple[Controller, Handler], sandbox: System,
) -> None:
    controller, handler = server
    refused = await livetest.run_session("live.relay", ctx_for(sandbox, controller))
    assert refused.status == "pass" and "554 5.7.1" in refused.found
    handler.relay_open = True
    opened = await livetest.run_session("live.relay", ctx_for(sandbox, controller))
    assert opened.status == "fail"
    assert opened.detail.startswith("OPEN RELAY: anyone can send spam through this server")
    assert "mynetworks = 127.0.0.0/8 includes 127.0.0.1" in opened.detail
    assert [line.text for line in opened.transcript if line.kind == "client"][-2:] == \
        ["RSET", "QUIT"]


async def test_live_receive_follows_the_queue_id_to_the_mailbox(
    server: tuple[Controller, Handler], sandbox: System,
) -> None:
    controller, handler = server
    seen: list[checks.TranscriptLine] = []
    result = await livetest.run_session("live.receive", ctx_for(sandbox, controller),
                                        seen.append)
    assert result.status == "pass", result
    assert "delivered to mwadmin@mail.example.com's mailbox" in result.detail
    texts = [line.text for line in result.transcript]
    assert "following 4F2A81C0D1 in /var/log/mail-test.log" in texts
    assert any(t.startswith("log: ") and "status=sent" in t for t in texts)
    assert "found the message in mwadmin's mailbox" in texts
    assert list(result.transcript) == seen  # streamed as it happened
    assert b"Subject: mailwizard live.receive mw-receive-" in handler.messages[0]


async def test_live_send_deferred_reports_the_reason_and_port_25_advice(
    server: tuple[Controller, Handler], sandbox: System,
) -> None:
    controller, handler = server
    handler.relay_open = True  # we submit from 127.0.0.1, inside mynetworks
    handler.outcome = ("status=deferred (connect to mx.example.net[192.0.2.99]:25: "
                       "Connection timed out)")
    result = await livetest.run_session("live.send",
                                        ctx_for(sandbox, controller, to="me@example.net"))
    assert result.status == "fail"
    assert "waiting in the queue (deferred): connect to mx.example.net" in result.detail
    assert "block outgoing port 25" in result.detail
    skipped = await livetest.run_session("live.send", ctx_for(sandbox, controller))
    assert skipped.status == "skip" and "--to" in skipped.detail


async def test_stream_yields_lines_then_the_result(
    server: tuple[Controller, Handler], sandbox: System,
) -> None:
    controller, _ = server
    items = [item async for item in livetest.stream("live.relay", ctx_for(sandbox, controller))]
    assert isinstance(items[-1], checks.CheckResult)
    assert all(isinstance(i, checks.TranscriptLine) for i in items[:-1])
    assert tuple(items[:-1]) == items[-1].transcript


async def test_nothing_listening_is_a_fail_that_says_so(sandbox: System) -> None:
    ctx = ctx_for(sandbox, Controller(Handler(sandbox.root), port=_free_port()))
    result = await livetest.run_session("live.relay", ctx)
    assert result.status == "fail" and "Nothing listens there" in result.detail


# -- the log -----------------------------------------------------------------------------


def test_deliveries_parse_sent_deferred_and_orig_to() -> None:
    lines = [
        "Dec  3 06:00:01 mail postfix/local[10]: ABC: to=<u@mail.example.com>, "
        "orig_to=<postmaster@example.com>, relay=local, delay=0.1, delays=0/0/0/0, dsn=2.0.0,"
        " status=sent (delivered to mailbox)",
        "2026-12-03T06:00:02.1+00:00 mail postfix/smtp[11]: ABC: to=<x@example.net>, "
        "relay=none, delay=30, dsn=4.4.1, status=deferred (connect to a[1.2.3.4]:25: "
        "Connection refused)",
        "Dec  3 06:00:01 mail postfix/local[10]: OTHER: to=<v@x>, relay=local, status=sent (x)",
    ]
    found = deliveries(lines, "ABC")
    assert [d.status for d in found] == ["sent", "deferred"]
    assert found[0].is_for("postmaster@example.com") and found[0].relay == "local"
    assert found[1].reason == "connect to a[1.2.3.4]:25: Connection refused"


async def test_follow_backs_off_and_stops_at_the_deadline(sandbox: System) -> None:
    log = MailLog(sandbox)
    assert log.path == LOG
    (sandbox.root / LOG.lstrip("/")).write_text("old line\n")
    mark = log.mark()
    reads: list[float] = []

    def found(lines: list[str]) -> str | None:
        reads.append(time.monotonic())
        return next((line for line in lines if "hello" in line), None)

    async def write_later() -> None:
        await asyncio.sleep(0.5)
        with (sandbox.root / LOG.lstrip("/")).open("a") as f:
            f.write("hello there\n")

    task = asyncio.create_task(write_later())
    result, lines = await follow(log, mark, found, timeout=5)
    await task
    assert result == "hello there" and "old line" not in lines
    gaps = [b - a for a, b in itertools.pairwise(reads)]
    assert len(reads) < 8 and gaps[-1] > 2 * gaps[0]  # backing off, not a busy loop
    start = time.monotonic()
    none, _ = await follow(log, Mark(0, 0), lambda lines: None, timeout=0.5)
    assert none is None and 0.4 < time.monotonic() - start < 1.5
