"""The six live sessions. Each speaks SMTP through a recorded :class:`Dialogue`, follows
what Postfix did in its log, and returns a verdict in plain words.

A session returns a :class:`CheckResult` without transcript; :mod:`mailwizard.livetest`
adds the transcript, the swaks command and the time limit.
"""

from __future__ import annotations

import asyncio
import email.utils
import shlex
import uuid

from mailwizard.checks import CheckResult, Status
from mailwizard.livecontext import DEFAULT_FOREIGN, SPF_STRANGER, LiveContext, find_message
from mailwizard.maillog import Delivery, Mark, deliveries, follow, lines_about
from mailwizard.smtpdialogue import Dialogue, SmtpError, Transcript, queue_id

FINAL = ("sent", "bounced", "expired", "deferred")
PORT25_BLOCKED = (
    "The connection to the receiving server's port 25 timed out. Many providers block "
    "outgoing port 25 on new servers: ask yours to \"unblock outbound SMTP (port 25)\" for "
    "this server, or relay through their smarthost (relayhost in main.cf)."
)


def _token(test_id: str) -> str:
    return f"mw-{test_id.split('.')[-1]}-{uuid.uuid4().hex[:12]}"


def message(ctx: LiveContext, test_id: str, sender: str, rcpt: str, token: str,
            purpose: str) -> str:
    import importlib.resources

    import jinja2

    loader = jinja2.FileSystemLoader(str(importlib.resources.files("mailwizard.templates")))
    env = jinja2.Environment(loader=loader, keep_trailing_newline=False, autoescape=False)
    return env.get_template("live-message.j2").render(
        sender=sender, rcpt=rcpt, token=token, test_id=test_id, domain=ctx.domain,
        date=email.utils.formatdate(localtime=False), purpose=purpose,
    )


def _result(test_id: str, status: Status, detail: str, expected: str = "",
            found: str = "") -> CheckResult:
    return CheckResult(test_id, status, detail, expected, found)


def _swaks(*args: str) -> str:
    return "swaks " + " ".join(shlex.quote(a) for a in args)


# -- following a message through the log ---------------------------------------------------


async def submit(ctx: LiveContext, t: Transcript, d: Dialogue, sender: str, rcpt: str,
                 test_id: str, purpose: str) -> tuple[str | None, str, str]:
    """MAIL, RCPT, DATA on an open dialogue: (queue id or None, token, why it was refused)."""
    token = _token(test_id)
    reply = await d.command(f"MAIL FROM:<{sender}>")
    if not reply.ok:
        return None, token, f"MAIL FROM refused: {reply.code} {reply.text}"
    reply = await d.command(f"RCPT TO:<{rcpt}>")
    if not reply.ok:
        return None, token, f"RCPT TO refused: {reply.code} {reply.text}"
    reply = await d.data(message(ctx, test_id, sender, rcpt, token, purpose))
    qid = queue_id(reply)
    if not reply.ok or qid is None:
        return None, token, f"message refused after DATA: {reply.code} {reply.text}"
    return qid, token, ""


async def trace(ctx: LiveContext, t: Transcript, mark: Mark, qid: str, rcpt: str,
                timeout: float) -> tuple[Delivery | None, list[str]]:
    """Wait until the log says what became of ``qid`` for ``rcpt``; show those lines."""
    assert ctx.log is not None
    t.note(f"following {qid} in {ctx.log.where}")

    def outcome(lines: list[str]) -> Delivery | None:
        for found in deliveries(lines, qid):
            if found.status in FINAL and (found.is_for(rcpt) or found.relay == "local"):
                return found
        return None

    found, lines = await follow(ctx.log, mark, outcome, timeout)
    related = lines_about(lines, qid)
    for line in related[-8:]:
        t.note(f"log: {line}")
    if found is None and not related:
        t.note(f"log: nothing about {qid} in {ctx.log.where}")
    return found, related


def _local_user(found: Delivery) -> str | None:
    if found.relay != "local" or "delivered to mailbox" not in found.reason:
        return None
    return found.to.split("@", 1)[0]


async def delivered_copy(ctx: LiveContext, t: Transcript, found: Delivery,
                         token: str) -> bytes | None:
    user = _local_user(found)
    if user is None:
        t.note(f"the message went on ({found.relay}: {found.reason}); its copy is not here")
        return None
    deadline = asyncio.get_running_loop().time() + 10
    delay = 0.1
    while True:
        raw = await asyncio.to_thread(find_message, ctx.system, user, token)
        if raw is not None or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
    t.note(f"found the message in {user}'s mailbox" if raw else f"not in {user}'s mailbox")
    return raw


def _failed_delivery(test_id: str, found: Delivery | None, rcpt: str, waited: float,
                     where: str) -> CheckResult:
    if found is None:
        return _result(test_id, "fail",
                       f"Postfix accepted the message but the log ({where}) says nothing final "
                       f"about it after {waited:g} s: it is probably still in the queue "
                       "(`postqueue -p` shows why).", expected=f"status=sent for {rcpt}")
    detail = {
        "deferred": f"The message for {found.to} is waiting in the queue (deferred): "
                    f"{found.reason}. Postfix will retry.",
        "bounced": f"The message for {found.to} bounced: {found.reason}.",
        "expired": f"The message for {found.to} expired in the queue: {found.reason}.",
    }.get(found.status, f"status={found.status}: {found.reason}")
    if found.status == "deferred" and "timed out" in found.reason.lower():
        detail += " " + PORT25_BLOCKED
    return _result(test_id, "fail", detail, expected="status=sent",
                   found=f"status={found.status} ({found.reason})")


# -- the sessions -----------------------------------------------------------------------


async def receive(ctx: LiveContext, t: Transcript) -> CheckResult:
    """As the guide's telnet session: our public address, port 25, to postmaster."""
    test_id = "live.receive"
    assert ctx.log is not None
    mark = ctx.log.mark()
    async with Dialogue(t, ctx.server, ctx.port, timeout=ctx.timeout) as d:
        banner = await d.connect()
        if banner.code != 220:
            return _result(test_id, "fail", f"The server did not greet: {banner.code} "
                           f"{banner.text}")
        ehlo = await d.ehlo(ctx.hostname)
        starttls = ehlo.has_keyword("STARTTLS")
        qid, token, refused = await submit(ctx, t, d, ctx.sender, ctx.postmaster, test_id,
                                           "receives mail from the Internet")
        await d.quit()
    if qid is None:
        return _result(test_id, "fail", f"The server refused mail for {ctx.postmaster}: "
                       f"{refused}", expected="250 at RCPT and after DATA", found=refused)
    found, _ = await trace(ctx, t, mark, qid, ctx.postmaster, ctx.timeout)
    if found is None or found.status != "sent":
        return _failed_delivery(test_id, found, ctx.postmaster, ctx.timeout, ctx.log.where)
    where = found.reason
    if _local_user(found):
        raw = await delivered_copy(ctx, t, found, token)
        if raw is not None:
            where = f"delivered to {found.to}'s mailbox"
    tls = "" if starttls else " STARTTLS was not offered: mail to this server travels in clear."
    return _result(test_id, "pass" if starttls else "warn",
                   f"Mail to {ctx.postmaster} on {ctx.server}:{ctx.port} arrives ({where}).{tls}",
                   found=found.line)


async def send(ctx: LiveContext, t: Transcript) -> CheckResult:
    test_id = "live.send"
    if not ctx.to:
        return _result(test_id, "skip", "Give your outside address (--to) to test sending.")
    assert ctx.log is not None
    mark = ctx.log.mark()
    async with Dialogue(t, ctx.local, ctx.port, timeout=ctx.timeout) as d:
        await d.connect()
        await d.ehlo(ctx.hostname)
        qid, _, refused = await submit(ctx, t, d, ctx.postmaster, ctx.to, test_id,
                                       "sends mail to the Internet")
        await d.quit()
    if qid is None:
        return _result(test_id, "fail", f"Postfix would not take the message for {ctx.to}: "
                       f"{refused}", found=refused)
    found, _ = await trace(ctx, t, mark, qid, ctx.to, ctx.send_timeout)
    if found is None or found.status != "sent":
        return _failed_delivery(test_id, found, ctx.to, ctx.send_timeout, ctx.log.where)
    return _result(test_id, "pass", f"{found.relay} accepted the message for {ctx.to} "
                   f"({found.reason}). Check that it arrived (and not as spam).", found=found.line)


async def auth(ctx: LiveContext, t: Transcript) -> CheckResult:
    test_id = "live.auth"
    if not ctx.user:
        return _result(test_id, "skip", "Give a mail user (--user) to test logging in.")
    if not ctx.password:
        return _result(test_id, "skip", f"No password for {ctx.user} "
                       "($MAILWIZARD_PASSWORD, or run on a terminal to be asked).")
    port = 587
    try:
        d = Dialogue(t, ctx.server, 587, timeout=ctx.timeout)
        await d.connect()
    except SmtpError as exc:
        t.note(f"submission port 587: {exc}; trying port 25")
        port = 25
        d = Dialogue(t, ctx.server, ctx.port, timeout=ctx.timeout)
        await d.connect()
    async with d:
        before = await d.ehlo(ctx.hostname)
        if before.has_keyword("AUTH"):
            await d.quit()
            return _result(test_id, "fail", f"Port {port} offers AUTH before STARTTLS: "
                           "passwords could travel in clear. Set smtpd_tls_auth_only = yes.",
                           expected="AUTH only after STARTTLS", found="AUTH before STARTTLS")
        if not before.has_keyword("STARTTLS"):
            await d.quit()
            return _result(test_id, "fail", f"Port {port} offers no STARTTLS, so there is no "
                           "safe way to log in: set up the TLS step first.")
        await d.starttls(ctx.hostname)
        after = await d.ehlo(ctx.hostname)
        if "PLAIN" not in after.keyword_args("AUTH"):
            await d.quit()
            return _result(test_id, "fail", "After STARTTLS the server offers no AUTH PLAIN: "
                           "SASL is not enabled (the SASL step sets smtpd_sasl_auth_enable).",
                           expected="AUTH PLAIN LOGIN", found=" ".join(after.keyword_args("AUTH")))
        reply = await d.auth_plain(ctx.user, ctx.password)
        await d.quit()
    if reply.code == 235:
        return _result(test_id, "pass", f"{ctx.user} logs in on port {port} after STARTTLS; "
                       "AUTH is not offered before it.")
    if reply.code == 535:
        return _result(test_id, "fail", f"Wrong password for {ctx.user}: the server works and "
                       "refused the login (535). Set a new password in the SASL step.",
                       expected="235", found=f"{reply.code} {reply.text}")
    return _result(test_id, "fail", f"Login failed with {reply.code} {reply.text}: the SASL "
                   "service may be broken (the mail log says more).", expected="235",
                   found=f"{reply.code} {reply.text}")


async def relay(ctx: LiveContext, t: Transcript) -> CheckResult:
    test_id = "live.relay"
    source = ctx.relay_source
    foreign = ctx.foreign
    async with Dialogue(t, ctx.server, ctx.port, source=source, timeout=ctx.timeout) as d:
        await d.connect()
        await d.ehlo(ctx.hostname)
        mail = await d.command(f"MAIL FROM:<{DEFAULT_FOREIGN}>")
        rcpt = await d.command(f"RCPT TO:<{foreign}>") if mail.ok else mail
        if rcpt.ok:
            await d.command("RSET")
        await d.quit()
    if not rcpt.ok:
        return _result(test_id, "pass", f"Refused to relay for an unauthenticated client at "
                       f"{source}: {rcpt.code} {rcpt.text}.", expected="refused",
                       found=f"{rcpt.code} {rcpt.text}")
    inside = ctx.in_mynetworks(source)
    cause = (f"mynetworks = {', '.join(ctx.mynetworks)} includes {source} ({inside}): every "
             "address in mynetworks may send anywhere. Narrow it in the Domains step."
             if inside else "smtpd_relay_restrictions (or smtpd_recipient_restrictions) lets "
             "it through: it must say reject_unauth_destination. The Domains step fixes it.")
    return _result(test_id, "fail", f"OPEN RELAY: anyone can send spam through this server. "
                   f"An unauthenticated client at {source} was allowed to send to {foreign}. "
                   + cause, expected="554 5.7.1 Relay access denied",
                   found=f"{rcpt.code} {rcpt.text}")


async def dkim(ctx: LiveContext, t: Transcript) -> CheckResult:
    test_id = "live.dkim"
    if not ctx.dkim_selector or not ctx.dkim_domain:
        return _result(test_id, "skip", "DKIM is not set up (the DKIM step).")
    assert ctx.log is not None
    mark = ctx.log.mark()
    async with Dialogue(t, ctx.local, ctx.port, timeout=ctx.timeout) as d:
        await d.connect()
        await d.ehlo(ctx.hostname)
        qid, token, refused = await submit(ctx, t, d, ctx.postmaster, ctx.postmaster, test_id,
                                           "signs its mail with DKIM")
        await d.quit()
    if qid is None:
        return _result(test_id, "fail", f"The test message was refused: {refused}")
    found, _ = await trace(ctx, t, mark, qid, ctx.postmaster, ctx.timeout)
    if found is None or found.status != "sent":
        return _failed_delivery(test_id, found, ctx.postmaster, ctx.timeout, ctx.log.where)
    raw = await delivered_copy(ctx, t, found, token)
    if raw is None:
        return _result(test_id, "skip", f"The test message went to {found.to} by "
                       f"{found.relay}, not to a mailbox here, so its signature cannot be read.")
    from mailwizard import dkimverify

    verdict = await asyncio.to_thread(dkimverify.verify, ctx, raw)
    for line in verdict.notes:
        t.note(line)
    if verdict.status == "fail" and "not signed" in verdict.detail:
        milter = [line for line in ctx.log.read_since(mark) if "milter" in line.lower()]
        for line in milter[-4:]:
            t.note(f"log: {line.strip()}")
    return _result(test_id, verdict.status, verdict.detail, verdict.expected, verdict.found)


async def spf(ctx: LiveContext, t: Transcript) -> CheckResult:
    test_id = "live.spf"
    if not ctx.spf_incoming:
        return _result(test_id, "skip", "The incoming SPF check is off (the SPF step).")
    assert ctx.log is not None
    mark = ctx.log.mark()
    async with Dialogue(t, ctx.server, ctx.port, timeout=ctx.timeout) as d:
        await d.connect()
        await d.ehlo(ctx.hostname)
        qid, token, refused = await submit(ctx, t, d, ctx.sender, ctx.postmaster, test_id,
                                           "checks SPF on incoming mail")
        await d.quit()
    if qid is None:
        return _result(test_id, "fail", f"Mail from our own domain, from our own address, was "
                       f"refused: {refused}. Does the SPF record cover {ctx.server}?")
    found, _ = await trace(ctx, t, mark, qid, ctx.postmaster, ctx.timeout)
    if found is None or found.status != "sent":
        return _failed_delivery(test_id, found, ctx.postmaster, ctx.timeout, ctx.log.where)
    raw = await delivered_copy(ctx, t, found, token)
    header = _received_spf(raw) if raw else None
    if raw is not None:
        t.note(f"Received-SPF: {header}" if header else "no Received-SPF header")
        if header is None or not header.lower().startswith("pass"):
            return _result(test_id, "fail", f"A sender that passes SPF ({ctx.sender} from "
                           f"{ctx.server}) was not marked pass: the SPF checker did not run or "
                           "the record does not cover this server.", expected="Received-SPF: pass",
                           found=f"Received-SPF: {header}" if header else "no Received-SPF")
    failing = await _spf_fail_half(ctx, t)
    passing = ("A passing sender is marked Received-SPF: pass." if header
               else "A passing sender was accepted (its copy is not readable here).")
    status: Status = "pass" if failing[0] else "fail"
    return _result(test_id, status, f"{passing} {failing[1]}")


def _received_spf(raw: bytes) -> str | None:
    import email

    msg = email.message_from_bytes(raw)
    value = msg.get("Received-SPF")
    return " ".join(str(value).split()) if value is not None else None


async def _spf_fail_half(ctx: LiveContext, t: Transcript) -> tuple[bool, str]:
    """A failing sender, through XCLIENT when Postfix allows us (smtpd_authorized_xclient_
    hosts); without it there is no way to come from an address outside the record."""
    qualifier = next((w[0] for w in ctx.spf_record.split() if w.endswith("all")), "?")
    async with Dialogue(t, ctx.local, ctx.port, timeout=ctx.timeout) as d:
        await d.connect()
        ehlo = await d.ehlo(ctx.hostname)
        if not ehlo.has_keyword("XCLIENT"):
            await d.quit()
            return True, ("The failing-sender half needs XCLIENT, which this server does not "
                          "allow us (that is normal): not tested.")
        await d.command(f"XCLIENT ADDR={SPF_STRANGER} NAME=[UNAVAILABLE]")
        await d.ehlo(ctx.hostname)
        await d.command(f"MAIL FROM:<{ctx.sender}>")
        rcpt = await d.command(f"RCPT TO:<{ctx.postmaster}>")
        await d.quit()
    if qualifier == "-":
        if 500 <= rcpt.code < 600:
            return True, f"A sender failing SPF (-all) is refused: {rcpt.code} {rcpt.text}."
        return False, (f"A sender failing SPF under -all was NOT refused ({rcpt.code} "
                       f"{rcpt.text}): the SPF step promised to refuse it.")
    if rcpt.ok:
        return True, (f"A sender failing SPF under {qualifier}all is accepted and marked "
                      "(softfail), as the record asks.")
    return True, f"A sender failing SPF was refused: {rcpt.code} {rcpt.text}."


def command(test_id: str, ctx: LiveContext) -> str:
    """The swaks command that repeats a session by hand (never with the password)."""
    if test_id == "live.receive":
        return _swaks("--server", f"{ctx.server}:{ctx.port}", "--from", ctx.sender, "--to",
                      ctx.postmaster)
    if test_id == "live.send":
        return _swaks("--server", f"{ctx.local}:{ctx.port}", "--from", ctx.postmaster, "--to",
                      ctx.to or "YOU@OUTSIDE.EXAMPLE")
    if test_id == "live.auth":
        return _swaks("--server", f"{ctx.server}:{ctx.submission_port}", "--tls",
                      "--quit-after", "AUTH", "--auth", "PLAIN", "--auth-user", ctx.user or "USER",
                      "--auth-hide-password") + "   # asks for the password"
    if test_id == "live.relay":
        return _swaks("--server", f"{ctx.server}:{ctx.port}", "--local-interface", ctx.relay_source,
                      "--from", DEFAULT_FOREIGN, "--to", ctx.foreign,
                      "--quit-after", "RCPT")
    if test_id == "live.dkim":
        return _swaks("--server", f"{ctx.local}:{ctx.port}", "--from", ctx.postmaster, "--to",
                      ctx.postmaster)
    return _swaks("--server", f"{ctx.server}:{ctx.port}", "--from", ctx.sender, "--to",
                  ctx.postmaster)
