"""The DNS records to publish, read from the configured state, and their zone text.

From Postfix (myhostname, mydestination, inet_protocols, smtp_bind_address), the records file
(``/etc/mailwizard/dns.toml``: SPF, DMARC, blocklists) and the DKIM key on disk — never from
what a screen last showed. The checks (:mod:`mailwizard.dnscheck`) compare the world with
these same records.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import idna

from mailwizard import dnsrecords, postfix
from mailwizard.facts import interface_addresses, mail_domains, primary_domain, stored_records
from mailwizard.system import System
from mailwizard.validate import Invalid

if TYPE_CHECKING:
    import jinja2

DEFAULT_TTL = 3600
DEFAULT_SPF = "v=spf1 mx ~all"
DEFAULT_BLOCKLISTS = ("zen.spamhaus.org",)


class RecordsError(Exception):
    """The records cannot be worked out (no host name, an address that is not one)."""


def a_label(name: str) -> str:
    """``name`` as ASCII (IDNA 2008 A-labels, UTS 46 mapping), lower case, no final dot."""
    name = name.strip().rstrip(".")
    if not name:
        raise Invalid("an empty domain name")
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        # Underscore labels (_dmarc, _domainkey) are not host names: encode the rest.
        labels = name.split(".")
        if any(label.startswith("_") for label in labels):
            return ".".join(label.lower() if label.startswith("_") else a_label(label)
                            for label in labels)
        raise Invalid(f"{name!r} is not a domain name: {exc}") from exc


def absolute(name: str) -> str:
    """The zone-file form of a name: A-labels and a final dot."""
    return a_label(name) + "."


@dataclass(frozen=True)
class Record:
    """One record to publish. ``strings`` are TXT character-strings (at most 255 bytes)."""

    name: str  # absolute, A-labels: "mail._domainkey.example.com."
    type: str  # A, AAAA, MX, TXT, PTR
    value: str  # the registrar-form value: an address, "10 mail.example.com.", flat TXT
    purpose: str  # "dns.a", "dns.mx", ... (the check that judges it)
    strings: tuple[str, ...] = ()
    ttl: int = DEFAULT_TTL
    advice: bool = False  # not set at the registrar (PTR: ask the hosting provider)

    @property
    def rdata(self) -> str:
        """The zone-file data: quoted strings for TXT, the value otherwise."""
        if self.type == "TXT":
            return dnsrecords.quote_strings(self.strings or (self.value,))
        return self.value

    def line(self) -> str:
        return f"{self.name} {self.ttl} IN {self.type} {self.rdata}"


@dataclass(frozen=True)
class Config:
    """What the records are made from (read once by :func:`read_config`)."""

    hostname: str
    domains: tuple[str, ...]
    ipv4: tuple[str, ...]
    ipv6: tuple[str, ...]
    spf: str = DEFAULT_SPF
    dkim_domain: str = ""
    dkim_selector: str = ""
    dkim_key: str | None = None  # base64 public key on disk (None: no key yet)
    # A rotation's new key, waiting for its record: published next to the one that signs.
    dkim_next_selector: str = ""
    dkim_next_key: str | None = None
    dmarc: str = ""
    blocklists: tuple[str, ...] = DEFAULT_BLOCKLISTS
    notes: tuple[str, ...] = field(default=())

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.ipv4 + self.ipv6


def _address(text: str, family: int, option: str) -> str:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError as exc:
        raise RecordsError(f"{option} {text}: not an IPv{family} address") from exc
    if ip.version != family:
        raise RecordsError(f"{option} {text}: not an IPv{family} address")
    return str(ip)


def ipv6_enabled(system: System) -> bool:
    protocols = postfix.expanded(system, "inet_protocols").replace(",", " ").split()
    return "all" in protocols or "ipv6" in protocols


def outbound_addresses(system: System, ipv4: str | None = None, ipv6: str | None = None
                       ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(IPv4, IPv6) addresses Postfix sends from: the option given, else smtp_bind_address(6),
    else the interfaces' global addresses. IPv6 only where inet_protocols enables it."""
    v4 = [_address(ipv4, 4, "--ipv4")] if ipv4 else []
    v6 = [_address(ipv6, 6, "--ipv6")] if ipv6 else []
    protocols = postfix.expanded(system, "inet_protocols").replace(",", " ").split()
    want4 = "all" in protocols or "ipv4" in protocols
    want6 = ipv6_enabled(system)
    if not v4 and want4:
        bind = postfix.get(system, "smtp_bind_address").strip()
        v4 = [_address(bind, 4, "smtp_bind_address")] if bind else \
            interface_addresses(system, 4)[:1]
    if not v6 and want6:
        bind6 = postfix.get(system, "smtp_bind_address6").strip()
        v6 = [_address(bind6, 6, "smtp_bind_address6")] if bind6 else \
            interface_addresses(system, 6)[:1]
    if not want6:
        v6 = []
    return tuple(v4), tuple(v6)


def read_config(system: System, ipv4: str | None = None, ipv6: str | None = None) -> Config:
    """Read everything the records depend on from the live system."""
    from mailwizard.steps.dkim import public_key, read_rotation, signing_identity

    hostname = postfix.get(system, "myhostname").strip().lower()
    if not hostname or "." not in hostname:
        raise RecordsError(f"myhostname is {hostname!r}: set a full host name first "
                           "(the hostname step)")
    domains = [d.lower() for d in mail_domains(system) if d.lower() != hostname]
    if not domains:
        domains = [primary_domain(system).lower()]
    v4, v6 = outbound_addresses(system, ipv4, ipv6)
    notes: list[str] = []
    if not v4 and not v6:
        notes.append("no public address found on the interfaces: give --ipv4 (and --ipv6)")
    stored = stored_records(system)
    spf = stored.get("spf", {}).get("record", DEFAULT_SPF)
    dmarc_table = stored.get("dmarc", {})
    dmarc = ""
    if dmarc_table:
        try:
            dmarc = dnsrecords.dmarc_record(dmarc_table.get("policy", "none"),
                                            dmarc_table.get("rua", ""))
        except Invalid as exc:
            notes.append(f"{dnsrecords.RECORDS_FILE} [dmarc]: {exc}")
    lists = stored.get("blocklist", {}).get("zones", "")
    blocklists = tuple(z.strip() for z in lists.replace(",", " ").split()) if lists \
        else DEFAULT_BLOCKLISTS
    dkim_domain, selector = signing_identity(system)  # in a rotation: the one that signs
    key = public_key(system, selector)
    if key is None:
        notes.append(f"no DKIM key for selector {selector!r} yet (the dkim step)")
    rotation = read_rotation(system)
    next_key = public_key(system, rotation.selector) \
        if rotation is not None and rotation.signing == selector else None
    if rotation is not None and next_key is not None:
        notes.append(f"DKIM rotation: publish {rotation.selector}'s record too; "
                     f"{selector} signs until the dkim step switches (published = true), "
                     "keep its record a few days after that")
    return Config(
        hostname=hostname, domains=tuple(domains), ipv4=v4, ipv6=v6, spf=spf,
        dkim_domain=dkim_domain, dkim_selector=selector, dkim_key=key,
        dkim_next_selector=rotation.selector if rotation is not None and next_key else "",
        dkim_next_key=next_key, dmarc=dmarc,
        blocklists=blocklists, notes=tuple(notes),
    )


def reverse_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer + "."


def records(config: Config, ttl: int = DEFAULT_TTL) -> list[Record]:
    """Every record to publish for ``config``, in the order a zone shows them."""
    host = absolute(config.hostname)
    out: list[Record] = []
    out += [Record(host, "A", ip, "dns.a", ttl=ttl) for ip in config.ipv4]
    out += [Record(host, "AAAA", ip, "dns.a", ttl=ttl) for ip in config.ipv6]
    for domain in config.domains:
        out.append(Record(absolute(domain), "MX", f"10 {host}", "dns.mx", ttl=ttl))
    for domain in config.domains:
        out.append(Record(absolute(domain), "TXT", config.spf, "dns.spf",
                          tuple(dnsrecords.split_strings(config.spf)), ttl=ttl))
    if config.dkim_key and config.dkim_domain:
        flat = dnsrecords.dkim_flat(config.dkim_key)
        name = absolute(dnsrecords.dkim_name(config.dkim_domain, config.dkim_selector))
        out.append(Record(name, "TXT", flat, "dns.dkim", tuple(dnsrecords.dkim_strings(flat)),
                          ttl=ttl))
    if config.dkim_next_key and config.dkim_domain:
        flat = dnsrecords.dkim_flat(config.dkim_next_key)
        name = absolute(dnsrecords.dkim_name(config.dkim_domain, config.dkim_next_selector))
        # Judged by the dkim step before its switch, not by a check of its own.
        out.append(Record(name, "TXT", flat, "dns.dkim.next",
                          tuple(dnsrecords.dkim_strings(flat)), ttl=ttl))
    if config.dmarc:
        for domain in config.domains:
            out.append(Record(absolute(dnsrecords.dmarc_name(domain)), "TXT", config.dmarc,
                              "dns.dmarc", tuple(dnsrecords.split_strings(config.dmarc)),
                              ttl=ttl))
    out += [Record(reverse_name(ip), "PTR", host, "dns.ptr", ttl=ttl, advice=True)
            for ip in config.addresses]
    return out


def _environment() -> jinja2.Environment:
    import jinja2  # only when a zone is written: not before the hub's first frame

    loader = jinja2.FileSystemLoader(str(importlib.resources.files("mailwizard.templates")))
    return jinja2.Environment(loader=loader, autoescape=False, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)


def zone_text(config: Config, ttl: int = DEFAULT_TTL) -> str:
    """BIND zone lines with absolute names (they load in nsd and BIND after a SOA and NS);
    PTR records as comments, since the hosting provider sets them."""
    all_records = records(config, ttl)
    return _environment().get_template("zone.j2").render(
        config=config,
        published=[r for r in all_records if not r.advice],
        advice=[r for r in all_records if r.advice],
    )
