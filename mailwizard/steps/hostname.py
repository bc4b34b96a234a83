"""The server's name: /etc/hostname, the running name, /etc/mailname, /etc/hosts, myhostname."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from mailwizard import postfix
from mailwizard.plan import Command, FileChange, Plan
from mailwizard.steps.base import (
    Problem,
    Proposal,
    Status,
    Step,
    field_check,
    look_alike_check,
    proposal,
)
from mailwizard.system import System
from mailwizard.validate import fqdn

HOSTNAME = "/etc/hostname"
MAILNAME = "/etc/mailname"
HOSTS = "/etc/hosts"


@dataclass(frozen=True)
class HostnameAnswers:
    fqdn: str


@dataclass(frozen=True)
class HostnameNow:
    """Every place the name lives today; they should all agree."""

    etc_hostname: str
    running: str
    mailname: str
    hosts_line: str
    myhostname: str
    myorigin: str


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""


def running_hostname(system: System) -> str:
    """The kernel's name (what `hostname` prints, asked without starting it); in a sandbox
    root, /etc/hostname."""
    if system.sandboxed:
        return _first_line(system.read_text(HOSTNAME))
    return os.uname().nodename


def hosts_127011(text: str) -> str:
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == "127.0.1.1":
            return " ".join(fields[1:])
    return ""


def edit_hosts(text: str, name: str) -> str:
    """Set the 127.0.1.1 line to ``name short``; keep every other line as it was."""
    short = name.split(".", 1)[0]
    wanted = f"127.0.1.1\t{name} {short}" if short != name else f"127.0.1.1\t{name}"
    lines = text.splitlines(keepends=True)
    if not text.strip():  # no /etc/hosts at all: localhost first, as Debian's installer does
        lines = ["127.0.0.1\tlocalhost\n"]
    for i, line in enumerate(lines):
        fields = line.split("#", 1)[0].split()
        if fields and fields[0] == "127.0.1.1":
            if fields[1:] == wanted.split()[1:]:
                return text
            lines[i] = wanted + "\n"
            return "".join(lines)
    # No such line: put it after the 127.0.0.1 line, or first.
    at = next((i + 1 for i, ln in enumerate(lines) if re.match(r"\s*127\.0\.0\.1\s", ln)), 0)
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, wanted + "\n")
    return "".join(lines)


def read_now(system: System) -> HostnameNow:
    return HostnameNow(
        etc_hostname=_first_line(system.read_text(HOSTNAME)),
        running=running_hostname(system),
        mailname=_first_line(system.read_text(MAILNAME)),
        hosts_line=hosts_127011(system.read_text(HOSTS) or ""),
        myhostname=postfix.get(system, "myhostname"),
        myorigin=postfix.get(system, "myorigin"),
    )


class HostnameStep(Step[HostnameAnswers]):
    name = "hostname"
    title = "Hostname"
    answers = HostnameAnswers
    blurb = (
        "The name this server calls itself and the name other servers see in its greeting. "
        "Use a full name under your domain, like mail.example.com."
    )
    help = """\
# Hostname

**What it does.** Sets the server's full name (FQDN) everywhere Postfix and the system look
for it: `/etc/hostname`, the running host name, `/etc/mailname` (Postfix's `myorigin`),
the `127.0.1.1` line in `/etc/hosts`, and `myhostname` in main.cf.

**Why it matters.** Receivers compare the name in the greeting (HELO) with your reverse
DNS (PTR). A server that greets as `localhost` or `vm` lands in spam or is refused.

**What the guide says.** Set the host name *before* installing Postfix
(`echo mail.example.com > /etc/hostname; hostname -F /etc/hostname`). The wizard also
fixes an already installed Postfix, which the guide leaves to the installer.

**Common mistakes.**
- A short name (`mail`) instead of a full one (`mail.example.com`).
- The bare domain (`example.com`) as host name: keep the domain for addresses and give
  the server its own name.
- Forgetting the PTR record: ask your provider to point your IP address back to this name.
"""

    def current(self, system: System) -> HostnameAnswers:
        now = read_now(system)
        return HostnameAnswers(fqdn=now.myhostname or now.etc_hostname or now.running)

    def propose(self, a: HostnameAnswers, system: System) -> Proposal:
        return proposal(self._problems(a, system), lambda: self._build(a, system))

    def _problems(self, a: HostnameAnswers, system: System) -> list[Problem]:
        problems: list[Problem] = []
        if field_check(problems, "hostname.fqdn", fqdn, a.fqdn):
            look_alike_check(problems, "hostname.fqdn", a.fqdn)
        return problems

    def _build(self, a: HostnameAnswers, system: System) -> Plan:
        name = fqdn(a.fqdn)
        now = read_now(system)
        files: list[FileChange] = []

        def whole(path: str, text: str, why: str) -> None:
            before = system.read_bytes(path)
            after = text.encode()
            if before != after:
                files.append(FileChange(path, before, after, why=why))

        if now.etc_hostname != name:
            whole(HOSTNAME, name + "\n", "the host name at boot")
        if now.mailname != name:
            whole(MAILNAME, name + "\n", "the domain Postfix adds to bare sender names")
        hosts_before = system.read_bytes(HOSTS)  # None: no /etc/hosts yet (a new file)
        hosts = (hosts_before or b"").decode("utf-8", "surrogateescape")
        new_hosts = edit_hosts(hosts, name)
        if new_hosts != hosts or hosts_before is None:
            files.append(FileChange(HOSTS, hosts_before,
                                    new_hosts.encode("utf-8", "surrogateescape"),
                                    why="the name resolves without DNS"))
        staged = postfix.stage(
            system,
            set_main={"myhostname": name, "myorigin": "/etc/mailname"},
            why="the name in Postfix's greeting",
        )
        files.extend(staged.changes)
        commands: list[Command] = []
        if now.running != name:
            argv = (
                ("hostnamectl", "set-hostname", name) if system.has_systemd
                else ("hostname", name)
            )
            commands.append(Command(argv, "rename the running system",
                                    undo=("hostname", "-F", HOSTNAME)))
        return Plan(
            files=tuple(files),
            commands=tuple(commands),
            reload=frozenset({"postfix"}) if files or commands else frozenset(),
            steps=(self.name,),
        )

    def status(self, system: System) -> Status:
        now = read_now(system)
        shown = (
            f"myhostname = {now.myhostname}",
            f"/etc/mailname = {now.mailname or '(missing)'}",
            f"/etc/hostname = {now.etc_hostname or '(missing)'}",
        )
        try:
            fqdn(now.myhostname)
        except ValueError:
            return Status("problem", f"{now.myhostname or 'unset'}: not a full name", shown)
        places = {now.etc_hostname, now.mailname, now.myhostname, now.running}
        if len(places) > 1:
            return Status("warn", f"{now.myhostname}: names differ", shown)
        return Status("ok", now.myhostname, shown)
