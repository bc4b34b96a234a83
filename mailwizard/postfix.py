"""Read and stage main.cf and master.cf through Postfix's own editor, postconf.

Staging works on a temporary copy (``postconf -c STAGE``), so a plan never touches
/etc/postfix; the staged text becomes a FileChange. Reads are cached by the files' content,
so one postconf start serves every step that reads the same configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from mailwizard import tempdirs
from mailwizard.plan import FileChange
from mailwizard.system import Result, System

CONFIG_DIR = "/etc/postfix"
MAIN_CF = f"{CONFIG_DIR}/main.cf"
MASTER_CF = f"{CONFIG_DIR}/master.cf"

# postconf names itself by argv[0], which may be a full path (/usr/sbin/postconf).
_WARNING = re.compile(r"^(?:\S*/)?postconf: warning: (.*)$", re.M)


class StagingError(Exception):
    """postconf refused an edit or warned about the staged result."""


def _files(system: System) -> tuple[bytes, bytes]:
    main = system.read_bytes(MAIN_CF)
    if main is None:
        raise StagingError(f"{MAIN_CF} does not exist: is Postfix installed?")
    return main, system.read_bytes(MASTER_CF) or b""


def _write_stage(stage: Path, main: bytes, master: bytes) -> None:
    (stage / "main.cf").write_bytes(main)
    (stage / "master.cf").write_bytes(master)
    _age(stage)


def _age(stage: Path) -> None:
    """Date the staged files a minute back: Postfix will not read a configuration file
    changed within the last second and sleeps until it is older (up to 2 s per call)."""
    past = time.time() - 60
    for name in ("main.cf", "master.cf"):
        os.utime(stage / name, (past, past))


def installed(system: System) -> bool:
    return system.exists(MAIN_CF) and system.which("postconf") is not None


def params(system: System) -> dict[str, str]:
    """Every parameter (defaults included) as written, ``$names`` unexpanded."""
    return _dump(system, ())


def explicit(system: System) -> dict[str, str]:
    """The parameters main.cf sets itself (``postconf -n``), ``$names`` unexpanded."""
    return _dump(system, ("-n",))


def expanded(system: System, name: str) -> str:
    """A parameter's effective value: ``$names`` and ``${{...} ? {...}}`` expressions
    evaluated (``postconf -x``), e.g. the default smtpd_relay_restrictions. A value made
    only of text and plain ``$name`` references (mydestination's ``$myhostname``) is
    expanded here from the dump every step reads already; anything else (``${name?...}``,
    an unknown name) asks ``postconf -x``."""
    simple = _expand_plain(params(system), name)
    if simple is not None:
        return simple
    return _dump(system, ("-x",)).get(name, "")


_PER_PROCESS = frozenset({"process_id", "process_name"})
# $name, ${name} or $(name): the only forms _expand_plain evaluates itself.
_PLAIN_REF = re.compile(r"\$(?:(\w+)|\{(\w+)\}|\((\w+)\))")


def _expand_plain(values: Mapping[str, str], name: str, depth: int = 0) -> str | None:
    """``name``'s value with its plain references replaced, recursively; None when it holds
    any other ``$`` form, or names a parameter that the dump lacks, that is empty (postconf
    -x keeps some of those as written: postscreen_reject_footer's $smtpd_reject_footer) or
    that is the reading process's own (process_id): postconf -x decides those."""
    raw = values.get(name)
    if raw is None or depth > 20 or (depth and not raw) or name in _PER_PROCESS:
        return None
    out: list[str] = []
    pos = 0
    for ref in _PLAIN_REF.finditer(raw):
        inner = _expand_plain(values, ref.group(1) or ref.group(2) or ref.group(3), depth + 1)
        if inner is None:
            return None
        out += [raw[pos:ref.start()], inner]
        pos = ref.end()
    rest = raw[pos:]
    if "$" in rest or any("$" in piece for piece in out[0::2]):
        return None
    return ("".join(out) + rest).strip()


def _content_key(what: str, main: bytes, master: bytes, *more: bytes) -> str:
    """The cache key of ``what`` done to these main.cf and master.cf bytes."""
    return f"{what}:" + hashlib.sha256(b"\0".join((main, master, *more))).hexdigest()


def _query_key(main: bytes, master: bytes, flags: tuple[str, ...]) -> str:
    return _content_key(f"postconf {' '.join(flags)}", main, master)


def _query(system: System, main: bytes, master: bytes, *flags: str) -> Result:
    """``postconf -c COPY FLAGS`` on an aged copy of the two files, cached by their content:
    one postconf start serves every step that reads the same configuration."""
    key = _query_key(main, master, flags)
    cached = system.cache.get(key)
    if isinstance(cached, Result):
        return cached
    # Threads that ask at once (the hub's statuses, the report's checks) wait for the one
    # postconf that runs instead of each starting its own (setdefault is atomic).
    lock = cast("threading.Lock", system.cache.setdefault("lock " + key, threading.Lock()))
    with lock:
        cached = system.cache.get(key)
        if isinstance(cached, Result):
            return cached
        with tempdirs.private("read") as tmp:
            _write_stage(Path(tmp), main, master)
            result = system.query(["postconf", "-c", tmp, *flags])
        result = _unstaged(result, tmp)
        system.cache[key] = result
    return result


def _unstaged(result: Result, tmp: str) -> Result:
    """``result`` as if postconf had read /etc/postfix, not the copy in ``tmp``."""
    return Result(result.argv, result.rc, result.stdout.replace(tmp, CONFIG_DIR),
                  result.stderr.replace(tmp, CONFIG_DIR))


def _dump(system: System, flags: tuple[str, ...]) -> dict[str, str]:
    result = _query(system, *_files(system), *flags)
    if not result.ok:
        raise StagingError(f"postconf could not read {MAIN_CF}: {result.stderr.strip()}")
    values: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition(" =")
        if sep:
            values[name.strip()] = value.strip()
    return values


def get(system: System, name: str) -> str:
    return params(system).get(name, "")


def split_list(value: str) -> list[str]:
    """Split a Postfix list (commas and/or white space), keeping ``{ ... }`` groups whole."""
    items: list[str] = []
    buf = ""
    depth = 0
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        if depth == 0 and (ch == "," or ch.isspace()):
            if buf:
                items.append(buf)
                buf = ""
            continue
        buf += ch
    if buf:
        items.append(buf)
    return items


@dataclass(frozen=True)
class Staged:
    """The result of staging: the file changes and the warnings postconf printed."""

    changes: tuple[FileChange, ...]
    warnings: tuple[str, ...]


def stage(
    system: System,
    *,
    set_main: Mapping[str, str] | None = None,
    remove_main: Sequence[str] = (),
    set_services: Sequence[str] = (),
    set_service_params: Sequence[str] = (),
    why: str = "",
) -> Staged:
    """Stage edits on a copy of main.cf/master.cf; return the changes and any new warnings
    (warnings the files already gave before the edit are not repeated).

    Service entries (``-M``) go in before main.cf parameters so that parameters named after
    a new service (``spfcheck_time_limit``) are not reported as unused.
    """
    main, master = _files(system)
    edits = (tuple(set_main.items()) if set_main else (), tuple(remove_main),
             tuple(set_services), tuple(set_service_params))
    # The same edit of the same files stages the same bytes (NORANDOMIZE): a screen's
    # validate() and plan(), each keystroke typed back, and a CLI that plans twice stage once.
    key = _content_key("stage", main, master, json.dumps(edits).encode())
    cached = system.cache.get(key)
    if isinstance(cached, _StageResult):
        result = cached
    else:
        result = _stage(system, main, master, *edits)
        system.cache[key] = result
    changes = []
    if result.main != main:
        changes.append(FileChange(MAIN_CF, main, result.main, why=why))
    if result.master != master:
        changes.append(FileChange(MASTER_CF, master, result.master, why=why))
    return Staged(tuple(changes), result.warnings)


@dataclass(frozen=True)
class _StageResult:
    """What postconf made of one edit of one main.cf/master.cf (cached by both)."""

    main: bytes
    master: bytes
    warnings: tuple[str, ...]


def _stage(system: System, main: bytes, master: bytes, set_main: tuple[tuple[str, str], ...],
           remove_main: tuple[str, ...], set_services: tuple[str, ...],
           set_service_params: tuple[str, ...]) -> _StageResult:
    with tempdirs.private("stage") as tmp:
        stage_dir = Path(tmp)
        _write_stage(stage_dir, main, master)
        calls: list[list[str]] = []
        if set_services:
            calls.append(["postconf", "-c", tmp, "-M", *set_services])
        if set_service_params:
            calls.append(["postconf", "-c", tmp, "-P", *set_service_params])
        if set_main:
            calls.append(["postconf", "-c", tmp, "-e", *(f"{k}={v}" for k, v in set_main)])
        if remove_main:
            calls.append(["postconf", "-c", tmp, "-X", *remove_main])
        for argv in calls:
            # Without NORANDOMIZE, postconf -e appends new parameters in a random order,
            # so the same answers would give differently ordered diffs.
            result = system.query(argv, env={"NORANDOMIZE": "1"})
            if not result.ok:
                raise StagingError(result.stderr.strip() or f"postconf exit {result.rc}")
            _age(stage_dir)
        # Every parameter of the result: the warnings, and the next step's first read.
        check = _unstaged(system.query(["postconf", "-c", tmp]), tmp)
        known = set(_warnings_before(system, main, master))
        warnings = tuple(w for w in _WARNING.findall(check.stderr) if w not in known)
        new_main = (stage_dir / "main.cf").read_bytes()
        new_master = (stage_dir / "master.cf").read_bytes()
    # The check is ``postconf`` of the staged files on an aged copy: what a read of the same
    # content gives (the next step's parameters and warnings, apply's check after).
    system.cache.setdefault(_query_key(new_main, new_master, ()), check)
    return _StageResult(new_main, new_master, warnings)


def _warnings_before(system: System, main: bytes, master: bytes) -> list[str]:
    """postconf's warnings about the unedited files (a full dump warns as ``-n`` does)."""
    return _WARNING.findall(_query(system, main, master).stderr)


def check_config(system: System) -> list[str]:
    """postconf's warnings about the live files (an unknown name is a mistake).

    Runs on an aged copy of the two files: Postfix sleeps up to 2 s before reading a file
    changed within the last second, which is every file apply() has just written.
    """
    main, master = _files(system)
    return list(_warnings_before(system, main, master))


def services(system: System) -> dict[str, str]:
    """master.cf entries: ``name/type`` -> the whole entry line (``postconf -M``)."""
    entries: dict[str, str] = {}
    for line in _query(system, *_files(system), "-M").stdout.splitlines():
        fields = line.split()
        if len(fields) >= 8:
            entries[f"{fields[0]}/{fields[1]}"] = " ".join(fields)
    return entries


def version(system: System) -> str:
    return get(system, "mail_version")


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])
