"""Reading a file named by the admin without hanging or eating memory.

``/dev/zero``, a FIFO or a 4 GB log where a password, an answers file or a certificate
should be: open without blocking (a FIFO with no writer would wait forever), refuse
anything that is not a regular file, and read at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mailwizard.validate import Invalid

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


class Refused(Invalid):
    """Invalid with the reason alone in ``reason`` (for callers that name the file already)."""

    def __init__(self, path: str | Path, reason: str, *, colon: bool = True) -> None:
        self.reason = reason
        super().__init__(f"{path}{':' if colon else ''} {reason}")


def kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str | Path, limit: int) -> None:
    """Raise Invalid unless ``path`` is a regular file of at most ``limit`` bytes
    (following links: a link to /dev/zero is /dev/zero). Never opens the file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise Refused(path, f"cannot read: {exc.strerror}") from None
    _judge(path, st, limit)


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``; Invalid (naming it) for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise Refused(path, f"cannot read: {exc.strerror}") from None
    try:
        _judge(path, os.fstat(fd), limit)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while we read
            raise Refused(path, f"is larger than {_size(limit)}", colon=False)
        return b"".join(chunks)
    except OSError as exc:
        raise Refused(path, f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def _judge(path: str | Path, st: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise Refused(path, f"not a regular file ({kind(st.st_mode)}): give a file")
    if st.st_size > limit:
        raise Refused(path, f"is larger than {_size(limit)}", colon=False)


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit >= 1024 else f"{limit} bytes"
