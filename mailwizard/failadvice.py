"""What to do when a command failed for a reason outside the wizard, in words.

A first-time admin sees ``make-ssl-cert ...: exit code 1`` and the tool's last lines; for
the failures that have nothing to do with the settings (the package system busy or broken,
the mirrors unreachable) this adds the one thing to do before trying again.
"""

from __future__ import annotations

import re

_ADVICE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"debconf.*is locked by another process|Could not get lock /var/lib/dpkg/"
                r"|Unable to acquire the dpkg frontend lock|dpkg frontend lock"),
     "Another program is using the package system (apt, or unattended-upgrades, which a "
     "fresh server runs by itself). Wait until it has finished (`ps -C apt,apt-get,dpkg,"
     "unattended-upgr` shows it), then run this again."),
    (re.compile(r"dpkg was interrupted"),
     "An earlier package installation was interrupted: run `dpkg --configure -a`, then "
     "run this again."),
    (re.compile(r"Temporary failure resolving|Could not resolve '|Failed to fetch"),
     "The server cannot reach its package mirrors: check its network and DNS (for example "
     "`getent hosts deb.debian.org`), then run this again."),
)


def advice(output: str) -> str:
    """The advice for a failed command's output, or '' when nothing here explains it."""
    return "\n".join(text for pattern, text in _ADVICE if pattern.search(output))
