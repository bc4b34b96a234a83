"""An SMTP client that records its dialogue the way telnet shows it, secrets masked.

Why not smtplib or aiosmtplib: smtplib's debug output prints the base64 of AUTH PLAIN
(the password), aiosmtplib has no transcript hook (only an internal protocol to patch).
This client is small because the live tests need only EHLO, STARTTLS, AUTH PLAIN, MAIL,
RCPT, DATA, RSET, QUIT and XCLIENT, and it masks at the one place a line is recorded.

Every line goes through :class:`Transcript`, which (1) masks the argument of
``AUTH <mech>`` and every client line that answers a 334, and (2) as a second fence
replaces the password, and each base64 form that carries it, wherever it would appear.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mailwizard.checks import TranscriptLine
from mailwizard.secret import MASK, Secret

LineSink = Callable[[TranscriptLine], None]


def mask_client_line(line: str, after_334: bool) -> str:
    """What the transcript shows for a line the client sends.

    ``AUTH PLAIN dXNlcgB...`` → ``AUTH PLAIN ••••••``; any line answering a 334 → ``••••••``.
    """
    if after_334:
        return MASK
    parts = line.split(" ", 2)
    if parts[0].upper() == "AUTH" and len(parts) > 2:
        return f"{parts[0]} {parts[1]} {MASK}"
    return line


def secret_forms(user: str, password: Secret | None) -> list[str]:
    """Every text that would give the password away: itself, its base64, AUTH PLAIN's."""
    if not password:
        return []
    pw = password.reveal()
    raw = [pw.encode(), f"\0{user}\0{pw}".encode(), f"{user}\0{user}\0{pw}".encode()]
    forms = [pw] + [base64.b64encode(r).decode() for r in raw]
    return sorted({f for f in forms if f}, key=len, reverse=True)


@dataclass
class Transcript:
    """The lines of one session, each timed from ``start``; ``sink`` sees them as they come."""

    sink: LineSink | None = None
    secrets: list[str] = field(default_factory=list)
    start: float = field(default_factory=time.monotonic)
    lines: list[TranscriptLine] = field(default_factory=list)

    def add(self, kind: str, text: str) -> TranscriptLine:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        line = TranscriptLine(time.monotonic() - self.start, kind, text)  # type: ignore[arg-type]
        self.lines.append(line)
        if self.sink is not None:
            self.sink(line)
        return line

    def note(self, text: str) -> None:
        self.add("note", text)


@dataclass(frozen=True)
class Reply:
    code: int
    lines: tuple[str, ...]  # the text after the code, one entry per reply line

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 400

    def has_keyword(self, word: str) -> bool:
        """An EHLO reply advertises ``word`` (STARTTLS, AUTH, XCLIENT, ...)."""
        return any(line.split(" ", 1)[0].upper() == word for line in self.lines[1:])

    def keyword_args(self, word: str) -> list[str]:
        for line in self.lines[1:]:
            parts = line.split()
            if parts and parts[0].upper() == word:
                return [p.upper() for p in parts[1:]]
        return []


class SmtpError(Exception):
    """The connection failed, timed out or the server spoke no SMTP; the text says which."""


class Dialogue:
    """One SMTP connection. Use ``async with Dialogue(...)``; each call records its lines."""

    def __init__(
        self,
        transcript: Transcript,
        host: str,
        port: int = 25,
        *,
        source: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.t = transcript
        self.host, self.port, self.source, self.timeout = host, port, source, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._after_334 = False
        self.tls = False

    async def __aenter__(self) -> Dialogue:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> Reply:
        where = f"{self.host}:{self.port}" + (f" from {self.source}" if self.source else "")
        self.t.note(f"connecting to {where}")
        local = (self.source, 0) if self.source else None
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, local_addr=local), self.timeout
            )
        except TimeoutError:
            raise SmtpError(f"no answer from {self.host}:{self.port} within "
                            f"{self.timeout:g} s (a firewall dropping the connection?)") from None
        except ConnectionRefusedError:
            raise SmtpError(f"cannot connect to {where}: connection refused") from None
        except OSError as exc:
            raise SmtpError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        self.t.note("connected")
        return await self.reply()

    async def reply(self) -> Reply:
        assert self._reader is not None
        code = 0
        texts: list[str] = []
        while True:
            try:
                raw = await asyncio.wait_for(self._reader.readline(), self.timeout)
            except TimeoutError:
                raise SmtpError(f"the server said nothing for {self.timeout:g} s") from None
            except (OSError, ssl.SSLError) as exc:
                raise SmtpError(f"connection lost: {exc}") from None
            if not raw:
                raise SmtpError("the server closed the connection")
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.t.add("server", line)
            match = re.match(r"^(\d{3})([ -]?)(.*)$", line)
            if not match:
                raise SmtpError(f"not an SMTP reply: {line[:80]!r}")
            code = int(match.group(1))
            texts.append(match.group(3))
            if match.group(2) != "-":
                break
        self._after_334 = code == 334
        return Reply(code, tuple(texts))

    async def send(self, line: str) -> None:
        """Send one line (recorded masked, see :func:`mask_client_line`)."""
        assert self._writer is not None
        self.t.add("client", mask_client_line(line, self._after_334))
        self._after_334 = False
        self._writer.write(line.encode("utf-8") + b"\r\n")
        try:
            await asyncio.wait_for(self._writer.drain(), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise SmtpError(f"cannot send: {exc or 'timeout'}") from None

    async def command(self, line: str) -> Reply:
        await self.send(line)
        return await self.reply()

    async def ehlo(self, name: str) -> Reply:
        return await self.command(f"EHLO {name}")

    async def starttls(self, server_name: str | None = None) -> Reply:
        """STARTTLS and the TLS handshake. The certificate is not verified here (a fresh
        server often has the snakeoil one); the TLS step and the DNS checks judge it."""
        reply = await self.command("STARTTLS")
        if reply.code != 220:
            return reply
        assert self._writer is not None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            await asyncio.wait_for(
                self._writer.start_tls(context, server_hostname=server_name), self.timeout
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raise SmtpError(f"TLS handshake failed: {exc or 'timeout'}") from None
        info = self._writer.get_extra_info("ssl_object")
        version = info.version() if info else "?"
        cipher = info.cipher()[0] if info and info.cipher() else "?"
        self.t.add("tls", f"TLS started: {version}, {cipher}")
        self.tls = True
        return reply

    async def auth_plain(self, user: str, password: Secret) -> Reply:
        token = base64.b64encode(f"\0{user}\0{password.reveal()}".encode()).decode()
        return await self.command(f"AUTH PLAIN {token}")

    async def data(self, message: str) -> Reply:
        """DATA, the message (dot-stuffed, shown line by line), and the final dot."""
        reply = await self.command("DATA")
        if reply.code != 354:
            return reply
        assert self._writer is not None
        for line in message.replace("\r\n", "\n").split("\n"):
            stuffed = "." + line if line.startswith(".") else line
            self.t.add("client", stuffed)
            self._writer.write(stuffed.encode("utf-8") + b"\r\n")
        return await self.command(".")

    async def quit(self) -> None:
        with contextlib.suppress(SmtpError):
            await self.command("QUIT")

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), 2)


def queue_id(reply: Reply) -> str | None:
    """``250 2.0.0 Ok: queued as 4F2A81C0D3`` → ``4F2A81C0D3``."""
    match = re.search(r"queued as ([0-9A-Za-z]+)", reply.text)
    return match.group(1) if match else None
