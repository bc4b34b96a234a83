"""Before the hub: is this root, on Debian/Ubuntu, with Postfix installed? And the fix.

Each failed check is a ``Blocker`` with the one action that fixes it. Installing Postfix is
an ``InstallPlan`` (debconf answers on stdin, then apt-get with DEBIAN_FRONTEND=noninteractive)
that ``run_install`` carries out, streaming apt's output line by line. No Textual here.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from mailwizard import postfix
from mailwizard.failadvice import advice
from mailwizard.system import CommandError, System

OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
PACKAGES = (
    "postfix", "sasl2-bin", "libsasl2-modules", "db5.3-util", "opendkim", "opendkim-tools",
    "postfix-policyd-spf-perl", "ssl-cert", "swaks",
)
SUPPORTED = ("debian", "ubuntu")

BlockerKind = Literal["root", "os", "postfix"]
ActionKind = Literal["quit", "install"]


@dataclass(frozen=True)
class Blocker:
    """A check that failed: what is wrong, why it matters, and the one action that fixes it."""

    kind: BlockerKind
    title: str
    message: str
    action: ActionKind
    action_label: str


def os_release(system: System) -> dict[str, str]:
    """The key=value pairs of /etc/os-release (quotes removed); empty if there is none."""
    for path in OS_RELEASE:
        text = system.read_text(path)
        if text is None:
            continue
        out: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if not sep or key.strip().startswith("#"):
                continue
            try:
                parts = shlex.split(value)
            except ValueError:
                parts = [value.strip("\"'")]
            out[key.strip()] = parts[0] if parts else ""
        return out
    return {}


def distro(system: System) -> str:
    """A short name for the header: ``Debian 12``, ``Ubuntu 24.04``, or what os-release says."""
    info = os_release(system)
    name = info.get("NAME", "").split()[0] if info.get("NAME") else info.get("ID", "")
    version = info.get("VERSION_ID", "")
    return " ".join(p for p in (name, version) if p) or "unknown system"


def is_supported(system: System) -> bool:
    info = os_release(system)
    ids = {info.get("ID", "").lower(), *info.get("ID_LIKE", "").lower().split()}
    return any(s in ids for s in SUPPORTED)


def check(system: System, euid: int | None = None) -> list[Blocker]:
    """Every failed check, most fundamental first (the screen shows the first)."""
    blockers: list[Blocker] = []
    uid = os.geteuid() if euid is None else euid
    if uid != 0:
        blockers.append(Blocker(
            "root", "mailwizard needs root",
            "It edits /etc/postfix, /etc/hostname and /etc/hosts, and runs postfix and "
            "apt-get: that needs root. Quit and start it again as root:\n\n"
            "    sudo mailwizard",
            "quit", "Quit",
        ))
    if not is_supported(system):
        blockers.append(Blocker(
            "os", "Not Debian or Ubuntu",
            f"This machine says it is {distro(system)}. mailwizard knows Debian's and "
            "Ubuntu's Postfix packages and file layout only, and would write the wrong "
            "files here. Run it on a Debian 12 (or Ubuntu) server.",
            "quit", "Quit",
        ))
    if not postfix.installed(system):
        blockers.append(Blocker(
            "postfix", "Postfix is not installed",
            "mailwizard configures Postfix, so it has to be installed first, together with "
            "the tools the later steps use (SASL logins, DKIM signing, SPF checks, swaks "
            "for the tests). Installing answers the package's questions for you "
            "(\"Internet Site\", and the mail name below).",
            "install", "Install Postfix",
        ))
    return blockers


# Installing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallCommand:
    argv: tuple[str, ...]
    why: str
    stdin: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 900.0


@dataclass(frozen=True)
class InstallPlan:
    packages: tuple[str, ...]
    mailname: str
    commands: tuple[InstallCommand, ...]


def debconf_selections(mailname: str) -> str:
    """The answers to postfix's install questions, for ``debconf-set-selections``."""
    return (
        "postfix postfix/main_mailer_type select Internet Site\n"
        f"postfix postfix/mailname string {mailname}\n"
    )


def install_plan(mailname: str, packages: tuple[str, ...] = PACKAGES) -> InstallPlan:
    """Preseed debconf, refresh the package lists, install without questions.

    ``mailname`` must already be valid (``validate.fqdn``): it goes into debconf verbatim.
    """
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    return InstallPlan(
        packages=packages,
        mailname=mailname,
        commands=(
            InstallCommand(("debconf-set-selections",), "answer the installer's questions",
                           stdin=debconf_selections(mailname), timeout=60),
            InstallCommand(("apt-get", "update", "-q"), "refresh the package lists", env=env),
            InstallCommand(
                ("apt-get", "install", "-y", "-q", "-o", "APT::Status-Fd=1",
                 "-o", "Dpkg::Options::=--force-confdef",
                 "-o", "Dpkg::Options::=--force-confold", *packages),
                "install the packages", env=env,
            ),
        ),
    )


_STATUS = re.compile(r"^(pmstatus|dlstatus):[^:]*:([0-9.]+):(.*)$")


@dataclass(frozen=True)
class Progress:
    """Where the install is: percent of the whole, and apt's description."""

    percent: float
    text: str


def parse_status(line: str) -> Progress | None:
    """An ``APT::Status-Fd`` line as overall progress (download first 30 %, install the rest)."""
    m = _STATUS.match(line.strip())
    if not m:
        return None
    kind, value, text = m.groups()
    try:
        pct = max(0.0, min(100.0, float(value)))
    except ValueError:
        return None
    overall = pct * 0.3 if kind == "dlstatus" else 30.0 + pct * 0.7
    return Progress(round(overall, 1), text.strip())


@dataclass(frozen=True)
class InstallResult:
    ok: bool
    failed: str = ""  # the command that failed
    reason: str = ""


def run_install(
    system: System,
    plan: InstallPlan,
    on_line: Callable[[str], None],
    on_progress: Callable[[Progress], None],
) -> InstallResult:
    """Run the plan; apt's status lines go to ``on_progress``, every other line to ``on_line``.

    Never raises for a failed command: the result says which one and why.
    """
    total = len(plan.commands)
    for index, cmd in enumerate(plan.commands):
        shown = " ".join(cmd.argv)
        on_progress(Progress(0.0 if index < total - 1 else 1.0, f"{cmd.why}: {shown}"))
        on_line(f"$ {shown}")

        def sink(line: str) -> None:
            status = parse_status(line)
            if status is not None:
                on_progress(status)
            elif line.strip():
                on_line(line)

        try:
            system.run(cmd.argv, stdin=cmd.stdin, timeout=cmd.timeout, on_line=sink,
                       env=cmd.env or None)
        except CommandError as exc:
            hint = advice(exc.output)
            return InstallResult(False, shown, exc.reason + (f"\n{hint}" if hint else ""))
    on_progress(Progress(100.0, "installed"))
    return InstallResult(True)


def mailname_guess(system: System) -> str:
    """The name to offer for debconf's mail name: /etc/mailname, else /etc/hostname."""
    for path in ("/etc/mailname", "/etc/hostname"):
        text = (system.read_text(path) or "").strip()
        if text:
            return text.splitlines()[0].strip()
    return ""
