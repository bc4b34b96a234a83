"""/etc/opendkim.conf edited key by key: comments, order and other lines survive.

opendkim.conf is ``Key<white space>value`` per line, ``#`` starts a comment, keys are
case-insensitive. Pure text functions; the dkim step reads and writes through System.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONF = "/etc/opendkim.conf"
KEY_DIR = "/etc/dkimkeys"
TRUSTED_HOSTS = "/etc/opendkim/trusted.hosts"
PORT = 8891
# opendkim's side. Under systemd on Debian 12 opendkim ignores /etc/default/opendkim: the
# socket must be set by Socket in opendkim.conf.
SOCKET = f"inet:{PORT}@127.0.0.1"
# Postfix's side: an address, not "localhost", which does not resolve inside Postfix's chroot
# without a copied /etc/hosts (and with milter_default_action=accept mail leaves unsigned).
MILTER = f"inet:127.0.0.1:{PORT}"

_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<key>[A-Za-z][A-Za-z0-9_]*)(?P<sep>[ \t]+|$)"
                   r"(?P<value>.*?)(?P<tail>[ \t]*)$")
_COMMENTED = re.compile(r"^[ \t]*#[ \t]*(?P<key>[A-Za-z][A-Za-z0-9_]*)(?:[ \t]|$)")


def _active(line: str) -> re.Match[str] | None:
    if line.lstrip().startswith("#"):
        return None
    return _LINE.match(line.rstrip("\r\n"))


def get(text: str, key: str) -> str | None:
    """The value of the first active ``key`` line (comments stripped), or None."""
    for line in text.splitlines():
        m = _active(line)
        if m and m.group("key").lower() == key.lower():
            return m.group("value").split("#", 1)[0].strip()
    return None


def values(text: str) -> dict[str, str]:
    """Every active key (first occurrence wins), keys as written."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _active(line)
        if m and m.group("key").lower() not in {k.lower() for k in out}:
            out[m.group("key")] = m.group("value").split("#", 1)[0].strip()
    return out


# opendkim.conf(5) and opendkim(8), "DATA SETS": a value with one of these prefixes, a path
# (starting with "/") or a name ending in ".db" is read from a file or a database; anything
# else is the list itself (commas; spaces are read as separators too), "csl:" saying so.
_DATASET_TYPES = ("file:", "refile:", "db:", "dsn:", "ldap:", "ldaps:", "ldapi:", "lua:",
                  "memcache:", "redis:", "mdb:", "erlang:", "socket:")


@dataclass(frozen=True)
class DomainSet:
    """The ``Domain`` dataset: the names listed (lower case, no final dot, once each, in
    order), or ``source``, the file or database opendkim reads them from, which mailwizard
    does not read (a regex file, a database): then it cannot tell which domains are signed."""

    names: tuple[str, ...] = ()
    source: str = ""


def domains(value: str | None) -> DomainSet:
    """``Domain example.com,example.org`` (or ``csl:...``, or spaces) as a list; a file,
    regex file or database named instead as its ``source``."""
    text = (value or "").strip()
    low = text.lower()
    if low.startswith("csl:"):
        text = text[len("csl:"):]
    elif low.startswith(_DATASET_TYPES) or text.startswith("/") or low.endswith(".db"):
        return DomainSet(source=text)
    names: list[str] = []
    for item in re.split(r"[,\s]+", text):
        name = item.lower().rstrip(".")
        if name and name not in names:
            names.append(name)
    return DomainSet(tuple(names))


def _line(key: str, value: str) -> str:
    """``Key`` padded with tabs to column 24, as Debian's file is laid out."""
    tabs = "\t" * max(1, (24 - len(key) + 7) // 8)
    return f"{key}{tabs}{value}\n"


def set_key(text: str, key: str, value: str | None) -> str:
    """Set ``key`` to ``value`` (None removes it).

    The first active line keeps its place and spacing; later active duplicates go. A new key
    goes after the last commented-out example of it (``#Domain example.com``), else at the end.
    """
    lines = text.splitlines(keepends=True)
    found = False
    out: list[str] = []
    for line in lines:
        m = _active(line)
        if m is None or m.group("key").lower() != key.lower():
            out.append(line)
            continue
        if found or value is None:
            continue
        found = True
        if m.group("value").split("#", 1)[0].strip() == value:
            out.append(line)
        else:
            sep = m.group("sep") or "\t"
            end = "\n" if line.endswith("\n") else ""
            out.append(f"{m.group('indent')}{m.group('key')}{sep}{value}{end}")
    if found or value is None:
        return "".join(out)
    example = None
    for i, line in enumerate(out):
        c = _COMMENTED.match(line)
        if c and c.group("key").lower() == key.lower():
            example = i
    new = _line(key, value)
    if example is not None:
        out.insert(example + 1, new)
    else:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(new)
    return "".join(out)


def edit(text: str, wanted: Mapping[str, str | None]) -> str:
    """Apply several ``set_key`` edits in order."""
    for key, value in wanted.items():
        text = set_key(text, key, value)
    return text


def internal_host(item: str) -> str | None:
    """A Postfix mynetworks item in opendkim's form (``[::1]/128`` -> ``::1/128``).

    Returns None for what opendkim cannot read (tables like ``hash:/etc/...``, ``$names``).
    """
    item = item.strip()
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](/\d{1,3})?", item)
    text = m.group(1) + (m.group(2) or "") if m else item
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return text


def trusted_hosts(mynetworks: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in mynetworks:
        host = internal_host(item)
        if host and host not in out:
            out.append(host)
    if not any(h.startswith("127.") for h in out):
        out.insert(0, "127.0.0.1")
    return out


def trusted_hosts_file(hosts: Iterable[str]) -> str:
    return (
        "# Written by mailwizard from Postfix's mynetworks: opendkim signs mail from these\n"
        "# clients (InternalHosts). Re-run `mailwizard dkim` after changing mynetworks.\n"
        + "".join(f"{h}\n" for h in hosts)
    )
