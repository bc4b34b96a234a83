"""Temp files named for one apply (``RUN_TOKEN``) that a kill -9 can leave behind.

An apply builds the SASL database as ``/etc/.sasldb2.<run>.tmp`` and its chroot copy as
``/var/spool/postfix/etc/.sasldb2.<run>.tmp``, then renames them into place. Killed between
the two, the temp file stays, holding every password. Under the run lock no other apply or
rollback runs, so any such file is stale: the next apply (and a rollback) removes it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import posixpath

from mailwizard.system import System

# The names with the run's token replaced by ``*`` (the steps' temp names match these).
PATTERNS = ("/etc/.sasldb2.*.tmp", "/var/spool/postfix/etc/.sasldb2.*.tmp")


def sweep(system: System, keep: frozenset[str] = frozenset()) -> list[str]:
    """Remove every file (or link: never followed) matching PATTERNS, except the logical
    paths in ``keep``; the logical paths removed."""
    removed = []
    for pattern in PATTERNS:
        folder, name = posixpath.split(pattern)
        try:
            entries = list(os.scandir(system.path(folder)))
        except OSError:
            continue
        for entry in entries:
            logical = posixpath.join(folder, entry.name)
            if logical in keep or not fnmatch.fnmatchcase(entry.name, name):
                continue
            if entry.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(logical)
    return removed
