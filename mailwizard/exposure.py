"""Who besides root can read or replace a file that holds a secret (a password, a TLS key).

Pure: the caller stats the file. Each finding is a phrase after the file's name
("/root/pw is readable by every user"), so a warning can name the file and say how to fix it.
"""

from __future__ import annotations

import os
import pwd


def owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def findings(mode: int, owner: str, group: str, *, group_may_read: bool = False) -> list[str]:
    """What is wrong with a secret file of this mode, owner and group ([] when nothing).

    ``group_may_read``: a group read bit is the intended arrangement (Debian's TLS keys are
    640 root:ssl-cert); a password file is for root alone.
    """
    found: list[str] = []
    if mode & 0o004:
        found.append("is readable by every user")
    elif mode & 0o040 and not group_may_read:
        found.append(f"is readable by group {group}")
    if mode & 0o022:
        found.append(f"can be changed by other users (mode {mode & 0o7777:04o})")
    me = owner_name(os.geteuid())
    if owner not in ("root", me):
        found.append(f"is owned by {owner}, not root (that user can read and replace it)")
    return found


def advice(group_may_read: bool = False) -> str:
    return "chmod 600 and chown root (or 640 root:ssl-cert)" if group_may_read \
        else "chmod 600 and chown root"


def of_path(path: str, *, group_may_read: bool = False) -> list[str]:
    """:func:`findings` for the file at ``path`` (followed if a link); [] if it is gone."""
    import grp
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return []
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return findings(stat.S_IMODE(st.st_mode), owner_name(st.st_uid), group,
                    group_may_read=group_may_read)
