"""X.509 certificates and PEM keys, read with ``openssl`` by path.

``openssl x509`` prints the certificate's expiry, subject, subjectAltName and public key;
``openssl pkey -pubout`` prints only a private key's public half, so the key itself never
enters this process (nor a log, nor a traceback). The two public keys (SubjectPublicKeyInfo
PEM) are compared to tell whether a key belongs to a certificate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mailwizard import boundedread
from mailwizard.system import System

_PUBLIC_KEY = re.compile(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", re.S)
X509_ARGS = ("-noout", "-enddate", "-subject", "-nameopt", "sep_multiline,utf8",
             "-ext", "subjectAltName", "-pubkey")


@dataclass(frozen=True)
class X509Info:
    not_after: datetime | None
    common_name: str
    dns_names: tuple[str, ...]  # subjectAltName DNS entries
    public_key: str

    @property
    def names(self) -> tuple[str, ...]:
        """The names a client checks: the SAN DNS names, or the CN when there are none."""
        if self.dns_names:
            return self.dns_names
        return (self.common_name,) if self.common_name else ()


def parse_x509(text: str) -> X509Info:
    """Parse ``openssl x509 -noout -enddate -subject -nameopt sep_multiline,utf8
    -ext subjectAltName -pubkey`` output."""
    not_after: datetime | None = None
    m = re.search(r"^notAfter=(.+)$", text, re.M)
    if m:
        try:
            stamp = datetime.strptime(" ".join(m.group(1).split()), "%b %d %H:%M:%S %Y GMT")
            not_after = stamp.replace(tzinfo=UTC)
        except ValueError:
            not_after = None
    cn = ""
    subject = re.search(r"^subject=\s*\n((?:[ \t]+.*\n?)*)", text, re.M)
    if subject:
        for line in subject.group(1).splitlines():
            key, _, value = line.strip().partition("=")
            if key == "CN":
                cn = value.strip()
    else:
        inline = re.search(r"^subject=.*?\bCN\s*=\s*([^,/\n]+)", text, re.M)
        cn = inline.group(1).strip() if inline else ""
    sans: list[str] = []
    san = re.search(r"Subject Alternative Name:.*\n[ \t]+(.*)", text)
    if san:
        for item in san.group(1).split(","):
            kind, _, value = item.strip().partition(":")
            if kind == "DNS" and value:
                sans.append(value.strip().lower())
    key = _PUBLIC_KEY.search(text)
    return X509Info(not_after, cn, tuple(sans), key.group(0).strip() if key else "")


def name_matches(pattern: str, host: str) -> bool:
    """A certificate name covers ``host``: equal, or ``*.example.com`` for one label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


# A PEM chain is a few KiB; anything over this is not a certificate or key (or /dev/zero).
MAX_PEM = 1024 * 1024


def refused(system: System, path: str) -> str:
    """Why ``path`` is not handed to openssl at all ("" when it may be): not a regular file
    (/dev/zero, a FIFO: openssl would read or wait until its timeout) or too large."""
    try:
        boundedread.check_regular(system.path(path), MAX_PEM)
    except boundedread.Refused as exc:
        return exc.reason
    return ""


def read_certificate(system: System, path: str) -> X509Info | None:
    """The certificate at ``path``; None when openssl cannot read it as PEM X.509."""
    if refused(system, path):
        return None
    result = system.query(["openssl", "x509", "-in", str(system.path(path)), *X509_ARGS])
    return parse_x509(result.stdout) if result.ok else None


def public_key_of(system: System, key_path: str) -> str | None:
    """The public half of the private key at ``key_path`` (PEM); None when it is not a
    readable, unencrypted key (an empty passphrase is tried, so openssl never prompts)."""
    if refused(system, key_path):
        return None
    result = system.query(
        ["openssl", "pkey", "-in", str(system.path(key_path)), "-pubout", "-passin", "pass:"])
    found = _PUBLIC_KEY.search(result.stdout)
    return found.group(0).strip() if result.ok and found else None
