"""Berkeley DB hash files (4.x/5.x, the format of /etc/sasldb2), read in memory.

Only what sasldb needs: every key/data pair of an unencrypted, unchecksummed hash file,
overflow pages included. Anything else (another format, duplicates, a damaged page) gives
None rather than a guess, so a caller can say "cannot compare" instead of a wrong answer.
"""

from __future__ import annotations

import struct

_HASH_MAGIC = 0x061561
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASH = 2, 7, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_PAGE_HEADER = 26


def _overflow(data: bytes, pagesize: int, pgno: int, total: int, order: str) -> bytes:
    out = b""
    seen = 0
    while pgno and len(out) < total and seen < len(data) // pagesize:
        base = pgno * pagesize
        _, _, nxt, _, length, _, ptype = struct.unpack_from(order + "IIIHHBB", data, base + 8)
        if ptype != _P_OVERFLOW:
            raise ValueError("bad overflow page")
        out += data[base + _PAGE_HEADER:base + _PAGE_HEADER + length]
        pgno, seen = nxt, seen + 1
    if len(out) != total:
        raise ValueError("short overflow chain")
    return out


def hash_items(data: bytes) -> dict[bytes, bytes] | None:
    """Every key/data pair of a Berkeley DB (4.x/5.x) hash file; None if not one we can read."""
    if len(data) < 512:
        return None
    for order in ("<", ">"):
        magic, version, pagesize, encrypt, _, metaflags = struct.unpack_from(
            order + "IIIBBB", data, 12)
        if magic == _HASH_MAGIC:
            break
    else:
        return None
    if version not in (8, 9, 10) or encrypt or metaflags & 0x01 or pagesize < 512 \
            or len(data) % pagesize:
        return None  # unknown version, encrypted or checksummed pages
    items: dict[bytes, bytes] = {}
    for pgno in range(1, len(data) // pagesize):
        base = pgno * pagesize
        entries, _, _, ptype = struct.unpack_from(order + "HHBB", data, base + 20)
        if ptype not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        offsets = struct.unpack_from(order + f"{entries}H", data, base + _PAGE_HEADER)
        values: list[bytes] = []
        for i, off in enumerate(offsets):
            end = pagesize if i == 0 else offsets[i - 1]
            if not _PAGE_HEADER < off < end <= pagesize:
                return None
            kind = data[base + off]
            if kind == _H_KEYDATA:
                values.append(data[base + off + 1:base + end])
            elif kind == _H_OFFPAGE:
                opg, tlen = struct.unpack_from(order + "II", data, base + off + 4)
                values.append(_overflow(data, pagesize, opg, tlen, order))
            else:
                return None  # duplicates: sasldb never writes them
        if len(values) % 2:
            return None
        for key, value in zip(values[::2], values[1::2], strict=True):
            if key in items:
                return None
            items[key] = value
    return items
