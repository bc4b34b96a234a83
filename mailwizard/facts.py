"""What several steps read from the machine, so that no step imports another step.

The primary domain and the mail domains (from ``mydestination``), the certificate pair
smtpd uses and whether TLS is configured, and the records file the DNS step publishes
(``/etc/mailwizard/dns.toml``, written by the SPF and DMARC steps), and this machine's
global addresses (what the DNS records publish and the live tests connect to).
"""

from __future__ import annotations

import ipaddress
import json

from mailwizard import dnsrecords, postfix
from mailwizard.plan import FileChange
from mailwizard.system import System
from mailwizard.validate import Invalid


def mail_domains(system: System) -> list[str]:
    """The real domains in mydestination (no localhost, no variables): the DKIM/SPF default."""
    out = []
    for item in postfix.split_list(postfix.get(system, "mydestination")):
        if "$" in item or item.startswith("localhost") or "." not in item:
            continue
        out.append(item)
    return out


def primary_domain(system: System) -> str:
    """The mail domain the later steps default to: the shortest real destination."""
    domains = mail_domains(system)
    if domains:
        return min(domains, key=lambda d: (d.count("."), d))
    host = postfix.get(system, "myhostname")
    return host.split(".", 1)[1] if host.count(".") >= 2 else host


def tls_files(system: System) -> tuple[str, str]:
    """(smtpd_tls_cert_file, smtpd_tls_key_file) in effect (the key defaults to the cert)."""
    return (postfix.expanded(system, "smtpd_tls_cert_file").strip(),
            postfix.expanded(system, "smtpd_tls_key_file").strip())


def tls_configured(system: System) -> bool:
    """smtpd has a certificate and key set and both files exist (else no STARTTLS, no AUTH
    where ``smtpd_tls_auth_only = yes``)."""
    cert, key = tls_files(system)
    if not cert or not key or "$" in cert + key:
        return False
    return system.exists(cert) and system.exists(key)


def stored_records(system: System) -> dict[str, dict[str, str]]:
    """The records file's sections ({} when it is missing or not valid TOML)."""
    try:
        return dnsrecords.read_records(system.read_text(dnsrecords.RECORDS_FILE))
    except Invalid:
        return {}


def records_change(system: System, section: str, table: dict[str, str], why: str
                   ) -> FileChange | None:
    """The records-file change that sets ``section`` (None when it already says so)."""
    path = dnsrecords.RECORDS_FILE
    before = system.read_bytes(path)
    after = dnsrecords.with_section(
        None if before is None else before.decode("utf-8", "replace"), section, table
    ).encode()
    if before == after:
        return None
    return FileChange(path, before, after, mode=0o644, owner="root", group="root", why=why)


def interface_addresses(system: System, family: int) -> list[str]:
    """Global-scope unicast addresses of this machine's interfaces (``ip -j addr``); the
    kernel's "global" scope includes LAN and ULA addresses (see :func:`named_addresses`)."""
    return [address for address, _ in named_addresses(system, family)]


def named_addresses(system: System, family: int | None = None) -> list[tuple[str, str]]:
    """(address, interface) of each global-scope unicast address of ``family`` (None: both,
    from one ``ip`` run), in the kernel's order."""
    flags = [] if family is None else ["-4" if family == 4 else "-6"]
    result = system.query(["ip", "-j", *flags, "addr", "show", "scope", "global"])
    if not result.ok:
        return []
    try:
        links = json.loads(result.stdout or "[]")
    except ValueError:
        return []
    out: list[tuple[str, str]] = []
    for link in links:
        for info in link.get("addr_info", []):
            local = info.get("local")
            if not local or info.get("deprecated") or info.get("temporary"):
                continue
            try:
                ip = ipaddress.ip_address(local)
            except ValueError:
                continue
            if family in (None, ip.version) and not ip.is_loopback and not ip.is_link_local:
                out.append((str(ip), str(link.get("ifname", "?"))))
    return out
