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
from mailwizard.facts import mail_domains, named_addresses, primary_domain, stored_records
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
    # Further domains opendkim.conf's Domain lists: signed with the same key, so its record
    # is published (and checked) at each of them too.
    dkim_more: tuple[str, ...] = ()
    # Domain names a file or database instead (refile:/etc/...): which domains it signs is
    # not known here; said in the zone's notes and by the dns.dkim check.
    dkim_unknown: str = ""
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


# Never routed, but the stand-ins for a public address in examples and tests (RFC 5737,
# RFC 3849): published like one.
DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))
_NOT_PUBLIC = tuple((ipaddress.ip_network(n), why) for n, why in (
    ("10.0.0.0/8", "a private address (RFC 1918)"),
    ("172.16.0.0/12", "a private address (RFC 1918)"),
    ("192.168.0.0/16", "a private address (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT, RFC 6598)"),
    ("127.0.0.0/8", "a loopback address"),
    ("::1/128", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("fe80::/10", "a link-local address"),
    ("fc00::/7", "a unique local address (ULA, fc00::/7)"),
    ("fec0::/10", "a site-local address (fec0::/10, deprecated)"),
))
UNREACHABLE = "not reachable from the Internet"
LEFT_OUT = " is not published: "  # in the note for each address left out (dns.a shows it)


def not_public(address: str) -> str:
    """Why the Internet cannot reach ``address`` ("" when it can). Only addresses it can
    reach are published (A, AAAA, PTR) and checked."""
    ip = ipaddress.ip_address(address)
    if any(ip in net for net in DOCUMENTATION):
        return ""
    for net, why in _NOT_PUBLIC:
        if ip in net:
            return why
    if ip.is_multicast:
        return "a multicast address"
    return "" if ip.is_global else "a reserved address"


def _address(text: str, family: int, option: str) -> str:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError as exc:
        raise RecordsError(f"{option} {text}: not an IPv{family} address") from exc
    if ip.version != family:
        raise RecordsError(f"{option} {text}: not an IPv{family} address")
    return str(ip)


def _given(text: str, family: int, option: str) -> str:
    """An address the admin typed: refused (a clear error) when it is not public."""
    address = _address(text, family, option)
    why = not_public(address)
    if why:
        raise RecordsError(f"{option} {text}: {why}, {UNREACHABLE}: give this server's "
                           "public address (the one the world connects to)")
    return address


def _publishable(found: list[tuple[str, str]], family: int, notes: list[str]) -> list[str]:
    """The first public one of ``found`` ((address, where) pairs); when there is none, a
    note for each address left out, saying why."""
    for address, _ in found:
        if not not_public(address):
            return [address]
    todo = ("give the public address with --ipv4 (behind NAT: the router's)" if family == 4
            else "give the global IPv6 address with --ipv6; with none, no AAAA is right")
    for address, where in found:
        notes.append(f"{where}{LEFT_OUT}{not_public(address)}, {UNREACHABLE}; {todo}")
    return []


def ipv6_enabled(system: System) -> bool:
    protocols = postfix.expanded(system, "inet_protocols").replace(",", " ").split()
    return "all" in protocols or "ipv6" in protocols


def outbound_addresses(system: System, ipv4: str | None = None, ipv6: str | None = None,
                       notes: list[str] | None = None
                       ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(IPv4, IPv6) addresses Postfix sends from: the option given, else smtp_bind_address(6),
    else the interfaces' first public address. IPv6 only where inet_protocols enables it.
    Addresses the Internet cannot reach (LAN, ULA) are left out; ``notes`` says why."""
    notes = [] if notes is None else notes
    v4 = [_given(ipv4, 4, "--ipv4")] if ipv4 else []
    v6 = [_given(ipv6, 6, "--ipv6")] if ipv6 else []
    protocols = postfix.expanded(system, "inet_protocols").replace(",", " ").split()
    want4 = "all" in protocols or "ipv4" in protocols
    want6 = ipv6_enabled(system)
    interfaces: list[tuple[str, str]] | None = None  # both families from one `ip` run
    for family, out, wanted in ((4, v4, want4), (6, v6, want6)):
        if out or not wanted:
            continue
        name = "smtp_bind_address" if family == 4 else "smtp_bind_address6"
        bind = postfix.get(system, name).strip()
        if bind:
            found = [(_address(bind, family, name), f"{name} {bind}")]
        else:
            interfaces = named_addresses(system) if interfaces is None else interfaces
            found = [(a, f"{a} ({ifname})") for a, ifname in interfaces
                     if ipaddress.ip_address(a).version == family]
        out.extend(_publishable(found, family, notes))
    if not want6:
        v6 = []
    return tuple(v4), tuple(v6)


def read_config(system: System, ipv4: str | None = None, ipv6: str | None = None) -> Config:
    """Read everything the records depend on from the live system."""
    from mailwizard.steps.dkim import public_key, read_rotation, signed_domains, signing_identity

    hostname = postfix.get(system, "myhostname").strip().lower()
    if not hostname or "." not in hostname:
        raise RecordsError(f"myhostname is {hostname!r}: set a full host name first "
                           "(the hostname step)")
    domains = [d.lower() for d in mail_domains(system) if d.lower() != hostname]
    if not domains:
        domains = [primary_domain(system).lower()]
    notes: list[str] = []
    v4, v6 = outbound_addresses(system, ipv4, ipv6, notes)
    if not v4 and not v6 and not notes:
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
    signed = signed_domains(system)
    if signed.source:
        notes.append(f"opendkim.conf's Domain is {signed.source}: mailwizard cannot tell which "
                     f"domains opendkim signs; the DKIM record below is for {dkim_domain} (the "
                     "first mail domain): publish the same TXT record at "
                     f"{selector}._domainkey.DOMAIN for each domain it lists")
    notes.extend(f"opendkim.conf's Domain lists {name!r}, which is not a domain name: no DKIM "
                 "record for it" for name in signed.skipped)
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
        dkim_domain=dkim_domain, dkim_more=signed.domains[1:], dkim_unknown=signed.source,
        dkim_selector=selector, dkim_key=key,
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
    signed = (config.dkim_domain, *config.dkim_more) if config.dkim_domain else ()
    if config.dkim_key:
        flat = dnsrecords.dkim_flat(config.dkim_key)
        for domain in signed:
            name = absolute(dnsrecords.dkim_name(domain, config.dkim_selector))
            out.append(Record(name, "TXT", flat, "dns.dkim",
                              tuple(dnsrecords.dkim_strings(flat)), ttl=ttl))
    if config.dkim_next_key:
        flat = dnsrecords.dkim_flat(config.dkim_next_key)
        for domain in signed:
            name = absolute(dnsrecords.dkim_name(domain, config.dkim_next_selector))
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
