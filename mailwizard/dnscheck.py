"""The DNS checks (`dns.*`): does the world see the records :mod:`mailwizard.dns` says to publish?

All queries run together (``asyncio.gather``) on dnspython's async resolver, each bounded
by a timeout and every check by an overall bound, so a silent server gives a result, not a
hang. A query ends in one of four ways, and the results keep them apart: an answer,
*absent* (no such name / no record of that type), *timed out*, *server error* (REFUSED,
SERVFAIL). SPF is evaluated by pyspf, its DNS hook pointed at the same server.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver
import spf

from mailwizard import dnsrecords
from mailwizard.checks import BOUND as BOUND  # re-exported: the names callers know
from mailwizard.checks import QUERY_TIMEOUT as QUERY_TIMEOUT
from mailwizard.checks import TRY_TIMEOUT, CheckResult, Status
from mailwizard.dns import LEFT_OUT, Config, a_label, absolute

IDS = ("dns.a", "dns.mx", "dns.spf", "dns.dkim", "dns.dmarc", "dns.ptr", "dns.blocklist")


# -- one query, four outcomes -------------------------------------------------------------

Kind = Literal["answer", "absent", "timeout", "error"]


@dataclass(frozen=True)
class Answer:
    kind: Kind
    values: tuple[str, ...] = ()  # A/AAAA: addresses; MX: "10 host."; TXT: joined strings
    why: str = ""  # absent: "no such name"; error: what the server said

    @property
    def ok(self) -> bool:
        return self.kind == "answer"

    def describe(self, what: str) -> str:
        """Found-text for a failed lookup, naming which of the three it was."""
        if self.kind == "absent":
            return f"absent: {what}: {self.why}"
        if self.kind == "timeout":
            return f"timed out: no answer for {what} ({self.why})"
        if self.kind == "error":
            return f"server error for {what}: {self.why}"
        return ", ".join(self.values)


def _text(rdata: Any, rdtype: str) -> str:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdtype == "MX":
        return f"{rdata.preference} {rdata.exchange.to_text().lower()}"
    if rdtype == "PTR":
        return str(rdata.target.to_text().lower())
    return str(rdata.to_text())


def _server_errors(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    parts = []
    for err in errors:
        # (server, tcp, port, error or answer) in dnspython 2.x
        server, answer = err[0], err[-1]
        parts.append(f"{server}: {answer}")
    return "; ".join(parts) or str(exc)


class Lookup:
    """Queries for one run: one resolver, each (name, type) asked once, however many
    checks need it."""

    def __init__(self, nameserver: tuple[str, int] | None = None,
                 timeout: float = QUERY_TIMEOUT) -> None:
        self.nameserver = nameserver
        self.timeout = timeout
        self.resolver = self._make(dns.asyncresolver.Resolver)
        self._asked: dict[tuple[str, str], asyncio.Task[Answer]] = {}

    def _make(self, cls: Any) -> Any:
        if self.nameserver is None:
            resolver = cls()
        else:
            resolver = cls(configure=False)
            ip, port = self.nameserver
            resolver.nameservers = [dns.nameserver.Do53Nameserver(ip, port=port)]
        resolver.timeout = min(TRY_TIMEOUT, self.timeout)
        resolver.lifetime = self.timeout
        resolver.cache = None
        return resolver

    def sync_resolver(self) -> dns.resolver.Resolver:
        """A blocking resolver with the same server (for pyspf, in a thread)."""
        resolver: dns.resolver.Resolver = self._make(dns.resolver.Resolver)
        return resolver

    @property
    def where(self) -> str:
        if self.nameserver is None:
            return "the system resolver"
        ip, port = self.nameserver
        return f"{ip}:{port}" if port != 53 else ip

    def ask(self, name: str, rdtype: str) -> Awaitable[Answer]:
        key = (absolute(name) if not name.endswith(".arpa.") else name, rdtype)
        if key not in self._asked:
            self._asked[key] = asyncio.ensure_future(self._query(*key))
        return asyncio.shield(self._asked[key])

    async def _query(self, name: str, rdtype: str) -> Answer:
        start = time.monotonic()
        try:
            answer = await self.resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer("absent", why="no such name (NXDOMAIN)")
        except dns.resolver.NoAnswer:
            return Answer("absent", why=f"the name exists but has no {rdtype} record")
        except dns.resolver.NoNameservers as exc:
            return Answer("error", why=_server_errors(exc))
        except dns.exception.Timeout:
            return Answer("timeout", why=f"{self.where}, {time.monotonic() - start:.1f} s")
        except dns.exception.DNSException as exc:
            return Answer("error", why=str(exc))
        return Answer("answer", tuple(_text(r, rdtype) for r in answer))


# -- pyspf, pointed at our resolver ---------------------------------------------------------

_SPF_RESOLVER: contextvars.ContextVar[dns.resolver.Resolver | None] = \
    contextvars.ContextVar("mailwizard_spf_resolver", default=None)


def _spf_dns(name: str, qtype: str, tcpfallback: bool = True, timeout: float = 30
             ) -> list[tuple[tuple[str, str], Any]]:
    """pyspf's DNS hook (``spf.DNSLookup``): the resolver of the current context."""
    resolver = _SPF_RESOLVER.get() or dns.resolver.Resolver()
    out: list[tuple[tuple[str, str], Any]] = []
    try:
        answers = resolver.resolve(name, qtype, lifetime=min(timeout, resolver.lifetime),
                                   search=False)
    except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
        return out
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise spf.TempError(f"DNS {exc}") from exc
    for rdata in answers:
        if qtype in ("A", "AAAA"):
            out.append(((name, qtype), rdata.address))
        elif qtype == "MX":
            out.append(((name, qtype), (rdata.preference, rdata.exchange)))
        elif qtype == "PTR":
            out.append(((name, qtype), rdata.target.to_text(True)))
        elif qtype in ("TXT", "SPF"):
            out.append(((name, qtype), rdata.strings))
    return out


spf.DNSLookup = _spf_dns  # also silences pyspf's deprecated dns.resolver.query calls


@dataclass(frozen=True)
class SpfVerdict:
    result: str  # pass, fail, softfail, neutral, none, temperror, permerror
    explanation: str
    lookups: int


def spf_evaluate(resolver: dns.resolver.Resolver, ip: str, sender: str, helo: str,
                 timeout: float) -> SpfVerdict:
    """What a receiver's SPF check says about mail from ``ip`` (blocking: run in a thread)."""
    _SPF_RESOLVER.set(resolver)
    query = spf.query(i=ip, s=sender, h=helo, timeout=timeout, querytime=timeout)
    result, _code, explanation = query.check()
    return SpfVerdict(str(result), str(explanation), int(query.lookups))


# -- the checks ---------------------------------------------------------------------------


def _result(id_: str, status: Status, detail: str, expected: str, found: str) -> CheckResult:
    return CheckResult(id_, status, detail, expected, found)


def _worst(statuses: Sequence[Status]) -> Status:
    for s in ("fail", "warn", "pass"):
        if s in statuses:
            return s
    return "skip"


def _combine(id_: str, parts: Sequence[CheckResult]) -> CheckResult:
    """One result per id (the ids are a contract) from one result per domain or address."""
    if len(parts) == 1:
        return parts[0]
    status = _worst([p.status for p in parts])
    bad = [p for p in parts if p.status == status] or list(parts)
    detail = "; ".join(p.detail for p in bad)
    return _result(id_, status, detail, "\n".join(p.expected for p in parts if p.expected),
                   "\n".join(p.found for p in parts if p.found))


async def check_a(cfg: Config, look: Lookup) -> CheckResult:
    host = absolute(cfg.hostname)
    parts = []
    for rdtype, wanted in (("A", cfg.ipv4), ("AAAA", cfg.ipv6)):
        if not wanted:
            continue
        got = await look.ask(host, rdtype)
        expected = f"{host} {rdtype} {', '.join(wanted)}"
        if not got.ok:
            parts.append(_result("dns.a", "fail", f"{host} {rdtype}: {got.kind}", expected,
                                 got.describe(f"{host} {rdtype}")))
        elif set(got.values) != set(wanted):
            parts.append(_result("dns.a", "fail",
                                 f"{host} {rdtype} is not (only) this server's address",
                                 expected, f"{host} {rdtype} {', '.join(got.values)}"))
        else:
            parts.append(_result("dns.a", "pass", f"{host} {rdtype} {', '.join(got.values)}",
                                 expected, f"{host} {rdtype} {', '.join(got.values)}"))
    if not parts:  # say why an address was left out (a LAN or ULA one), if one was
        left_out = [n for n in cfg.notes if LEFT_OUT in n]
        return _result("dns.a", "skip", "; ".join(left_out)
                       or "no address of this server to look for", "", "")
    return _combine("dns.a", parts)


async def _one_mx(domain: str, cfg: Config, look: Lookup) -> CheckResult:
    name, host = absolute(domain), absolute(cfg.hostname)
    expected = f"{name} MX 10 {host} (and {host} at {', '.join(cfg.addresses)})"
    got = await look.ask(name, "MX")
    if not got.ok:
        return _result("dns.mx", "fail", f"{name} MX: {got.kind}", expected,
                       got.describe(f"{name} MX"))
    targets = [v.split()[-1] for v in got.values]
    found = f"{name} MX {', '.join(got.values)}"
    ours = set(cfg.addresses)
    for target in targets:
        answers = await asyncio.gather(look.ask(target, "A"), look.ask(target, "AAAA"))
        addresses = {v for a in answers if a.ok for v in a.values}
        if ours and ours <= addresses:
            note = "" if target == host else f" (named {target}, not {host})"
            return _result("dns.mx", "pass", f"{domain}: MX {target} is this server{note}",
                           expected, f"{found}; {target} at {', '.join(sorted(addresses))}")
        found += f"; {target} at {', '.join(sorted(addresses)) or 'no address'}"
    return _result("dns.mx", "fail",
                   f"{domain}: no MX host with this server's addresses ({', '.join(ours)})",
                   expected, found)


async def check_mx(cfg: Config, look: Lookup) -> CheckResult:
    return _combine("dns.mx", await asyncio.gather(*(_one_mx(d, cfg, look)
                                                     for d in cfg.domains)))


def _spf_records(values: Sequence[str]) -> list[str]:
    return [v for v in values if v.lower() == "v=spf1" or v.lower().startswith("v=spf1 ")]


async def _one_spf(domain: str, cfg: Config, look: Lookup) -> CheckResult:
    name = absolute(domain)
    expected = f"{name} TXT \"{cfg.spf}\", passing {', '.join(cfg.addresses)}"
    got = await look.ask(name, "TXT")
    if not got.ok:
        return _result("dns.spf", "fail", f"{domain}: SPF: {got.kind}", expected,
                       got.describe(f"{name} TXT"))
    found_records = _spf_records(got.values)
    found = " | ".join(found_records) or "no v=spf1 record among: " + (
        " | ".join(got.values) or "nothing")
    if not found_records:
        return _result("dns.spf", "fail", f"{domain}: no SPF record (v=spf1)", expected, found)
    if len(found_records) > 1:
        return _result("dns.spf", "fail",
                       f"{domain}: {len(found_records)} SPF records: receivers treat that as "
                       "broken (permerror); merge them into one", expected, found)
    record = found_records[0]
    terms = record.lower().split()
    if terms[-1] in ("all", "+all", "?all"):
        return _result("dns.spf", "fail",
                       f"{domain}: '{terms[-1]}' makes the record worthless: every server "
                       "may send as you; end with ~all or -all", expected, found)
    resolver = look.sync_resolver()
    verdicts = await asyncio.gather(*(
        asyncio.to_thread(spf_evaluate, resolver, ip, f"postmaster@{a_label(domain)}",
                          cfg.hostname, look.timeout)
        for ip in cfg.addresses))
    problems = [f"{ip} gets {v.result}" + (f" ({v.explanation})" if v.explanation else "")
                for ip, v in zip(cfg.addresses, verdicts, strict=True) if v.result != "pass"]
    lookups = max((v.lookups for v in verdicts), default=0)
    found += f"; {lookups} DNS lookups"
    if problems:
        return _result("dns.spf", "fail",
                       f"{domain}: SPF does not pass this server: {'; '.join(problems)}",
                       expected, found)
    if lookups > dnsrecords.MAX_LOOKUPS:
        return _result("dns.spf", "fail", f"{domain}: {lookups} DNS lookups: receivers stop at "
                       f"{dnsrecords.MAX_LOOKUPS} (permerror)", expected, found)
    if lookups >= dnsrecords.MAX_LOOKUPS:
        return _result("dns.spf", "warn", f"{domain}: {lookups} DNS lookups, at the limit of "
                       f"{dnsrecords.MAX_LOOKUPS}: one more include breaks SPF", expected, found)
    if not cfg.addresses:
        return _result("dns.spf", "warn", f"{domain}: one SPF record; no address to test it "
                       "with", expected, found)
    return _result("dns.spf", "pass",
                   f"{domain}: SPF passes {', '.join(cfg.addresses)} ({lookups} lookups)",
                   expected, found)


async def check_spf(cfg: Config, look: Lookup) -> CheckResult:
    return _combine("dns.spf", await asyncio.gather(*(_one_spf(d, cfg, look)
                                                      for d in cfg.domains)))


async def check_dkim(cfg: Config, look: Lookup) -> CheckResult:
    if not cfg.dkim_key or not cfg.dkim_domain:
        return _result("dns.dkim", "skip", "no DKIM key on this server (the dkim step)", "", "")
    result = _combine("dns.dkim", await asyncio.gather(
        *(_one_dkim(d, cfg, look) for d in (cfg.dkim_domain, *cfg.dkim_more))))
    if cfg.dkim_unknown:  # Domain names a file: the record is checked for one domain only
        return _result("dns.dkim", "fail" if result.status == "fail" else "warn",
                       f"{result.detail}; opendkim.conf's Domain is {cfg.dkim_unknown}: "
                       "mailwizard cannot tell which other domains it signs (each needs "
                       f"this record at {cfg.dkim_selector}._domainkey.DOMAIN)",
                       result.expected, result.found)
    return result


async def _one_dkim(domain: str, cfg: Config, look: Lookup) -> CheckResult:
    assert cfg.dkim_key
    name = absolute(dnsrecords.dkim_name(domain, cfg.dkim_selector))
    expected = f"{name} TXT {dnsrecords.dkim_flat(cfg.dkim_key)}"
    got = await look.ask(name, "TXT")
    if not got.ok:
        return _result("dns.dkim", "fail", f"{name}: {got.kind}", expected,
                       got.describe(f"{name} TXT"))
    keys = [p for p in (dnsrecords.dkim_p(v) for v in got.values) if p is not None]
    found = " | ".join(got.values)
    if not keys:
        return _result("dns.dkim", "fail", f"{name}: no DKIM record (no p= tag)", expected,
                       found)
    if cfg.dkim_key in keys:
        bits = dnsrecords.rsa_bits(cfg.dkim_key)
        return _result("dns.dkim", "pass",
                       f"{name}: the key on this server ({bits or '?'} bits)", expected, found)
    if keys == [""]:
        return _result("dns.dkim", "fail", f"{name}: the key is revoked (empty p=)", expected,
                       found)
    return _result("dns.dkim", "fail",
                   f"{name} publishes another key than this server signs with (an older one, "
                   "from before a rotation?): publish the record `mailwizard zone` prints",
                   expected, found)


DMARC_TAGS = {"v", "p", "sp", "rua", "ruf", "adkim", "aspf", "pct", "fo", "rf", "ri", "np",
              "psd", "t"}


def dmarc_problems(record: str) -> tuple[dict[str, str], list[str]]:
    """(tags, problems) of a DMARC record (RFC 7489)."""
    tags: dict[str, str] = {}
    problems: list[str] = []
    for i, part in enumerate(p.strip() for p in record.split(";")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            problems.append(f"{part!r} is not tag=value")
            continue
        if i == 0 and (key != "v" or value != "DMARC1"):
            problems.append("the record must start with v=DMARC1")
        if key not in DMARC_TAGS:
            problems.append(f"unknown tag {key}=")
        tags[key] = value
    for key in ("p", "sp", "np"):
        if key in tags and tags[key].lower() not in dnsrecords.DMARC_POLICIES:
            problems.append(f"{key}={tags[key]}: one of none, quarantine, reject")
    if "p" not in tags:
        problems.append("no p= tag (the policy)")
    for key in ("adkim", "aspf"):
        if key in tags and tags[key].lower() not in ("r", "s"):
            problems.append(f"{key}={tags[key]}: r or s")
    if "pct" in tags and not (tags["pct"].isdigit() and 0 <= int(tags["pct"]) <= 100):
        problems.append(f"pct={tags['pct']}: a number from 0 to 100")
    for key in ("rua", "ruf"):
        for uri in filter(None, (u.strip() for u in tags.get(key, "").split(","))):
            if not uri.lower().startswith("mailto:") or "@" not in uri:
                problems.append(f"{key}: {uri!r} is not a mailto: address")
    return tags, problems


async def _one_dmarc(domain: str, cfg: Config, look: Lookup) -> CheckResult:
    name = absolute(dnsrecords.dmarc_name(domain))
    expected = f"{name} TXT \"{cfg.dmarc or 'v=DMARC1; p=none; rua=mailto:postmaster@' + domain}\""
    got = await look.ask(name, "TXT")
    if not got.ok:
        return _result("dns.dmarc", "fail", f"{name}: {got.kind}", expected,
                       got.describe(f"{name} TXT"))
    found_records = [v for v in got.values if v.replace(" ", "").lower().startswith("v=dmarc1")]
    found = " | ".join(got.values)
    if len(found_records) != 1:
        why = "no DMARC record (v=DMARC1)" if not found_records else \
            f"{len(found_records)} DMARC records: receivers ignore them all"
        return _result("dns.dmarc", "fail", f"{name}: {why}", expected, found)
    tags, problems = dmarc_problems(found_records[0])
    if problems:
        return _result("dns.dmarc", "fail", f"{name}: {'; '.join(problems)}", expected, found)
    policy = tags["p"].lower()
    if policy == "none":
        return _result("dns.dmarc", "warn",
                       f"{domain}: policy none (reports only). Next step: read the rua reports "
                       "for a few weeks, then publish p=quarantine", expected, found)
    return _result("dns.dmarc", "pass", f"{domain}: policy {policy}", expected, found)


async def check_dmarc(cfg: Config, look: Lookup) -> CheckResult:
    return _combine("dns.dmarc", await asyncio.gather(*(_one_dmarc(d, cfg, look)
                                                        for d in cfg.domains)))


async def _one_ptr(ip: str, cfg: Config, look: Lookup) -> CheckResult:
    rev = ipaddress.ip_address(ip).reverse_pointer + "."
    host = absolute(cfg.hostname)
    expected = f"{rev} PTR {host}, and {host} at {ip}"
    got = await look.ask(rev, "PTR")
    if not got.ok:
        return _result("dns.ptr", "fail", f"{ip}: no reverse DNS: {got.kind} (ask your hosting "
                       f"provider for PTR {host})", expected, got.describe(f"{rev} PTR"))
    found = f"{rev} PTR {', '.join(got.values)}"
    confirmed = []
    for name in got.values:
        rdtype = "A" if ipaddress.ip_address(ip).version == 4 else "AAAA"
        forward = await look.ask(name, rdtype)
        shown = ", ".join(forward.values) if forward.ok else forward.describe(name)
        found += f"; {name} {rdtype} {shown}"
        if forward.ok and ip in forward.values:
            confirmed.append(name)
    if not confirmed:
        return _result("dns.ptr", "fail", f"{ip}: the PTR name does not point back at {ip} "
                       "(not forward-confirmed)", expected, found)
    if host not in confirmed:
        return _result("dns.ptr", "fail", f"{ip}: reverse DNS says {confirmed[0]}, but the "
                       f"server greets as {cfg.hostname} (myhostname)", expected, found)
    return _result("dns.ptr", "pass", f"{ip} ⇄ {cfg.hostname}", expected, found)


async def check_ptr(cfg: Config, look: Lookup) -> CheckResult:
    if not cfg.addresses:
        return _result("dns.ptr", "skip", "no address of this server to look up", "", "")
    return _combine("dns.ptr", await asyncio.gather(*(_one_ptr(ip, cfg, look)
                                                      for ip in cfg.addresses)))


async def _one_listing(ip: str, zone: str, look: Lookup) -> CheckResult:
    name = ".".join(reversed(ip.split("."))) + "." + a_label(zone) + "."
    expected = f"{name} absent (not listed)"
    got = await look.ask(name, "A")
    if got.kind == "absent":
        return _result("dns.blocklist", "pass", f"{ip} is not on {zone}", expected,
                       got.describe(name))
    if not got.ok:
        return _result("dns.blocklist", "warn", f"{zone}: could not ask ({got.kind}); not a "
                       "listing", expected, got.describe(name))
    found = f"{name} A {', '.join(got.values)}"
    codes = [ipaddress.ip_address(v) for v in got.values]
    if any(c in ipaddress.ip_network("127.255.255.0/24") for c in codes):
        return _result("dns.blocklist", "warn",
                       f"{zone} refused the query ({', '.join(got.values)}: e.g. Spamhaus "
                       "answers public resolvers so); not a listing: ask with your own "
                       "resolver", expected, found)
    if all(c in ipaddress.ip_network("127.0.0.0/8") for c in codes):
        return _result("dns.blocklist", "fail", f"{ip} is listed on {zone} "
                       f"({', '.join(got.values)}): ask the list for removal", expected, found)
    return _result("dns.blocklist", "warn", f"{zone}: an answer that is not a listing code "
                   f"({', '.join(got.values)})", expected, found)


async def check_blocklist(cfg: Config, look: Lookup) -> CheckResult:
    if not cfg.ipv4:
        return _result("dns.blocklist", "skip", "no IPv4 address to look up", "", "")
    parts = await asyncio.gather(*(_one_listing(ip, zone, look)
                                   for ip in cfg.ipv4 for zone in cfg.blocklists))
    return _combine("dns.blocklist", parts)


CHECKS: dict[str, Callable[[Config, Lookup], Awaitable[CheckResult]]] = {
    "dns.a": check_a, "dns.mx": check_mx, "dns.spf": check_spf, "dns.dkim": check_dkim,
    "dns.dmarc": check_dmarc, "dns.ptr": check_ptr, "dns.blocklist": check_blocklist,
}


async def bounded(id_: str, work: Awaitable[CheckResult], bound: float) -> CheckResult:
    """``work``'s result, or a timed-out result after ``bound`` seconds (never a hang)."""
    try:
        return await asyncio.wait_for(work, bound)
    except TimeoutError:
        return _result(id_, "fail", f"timed out: no result within {bound:.0f} s", "",
                       "timed out")
    except Exception as exc:  # a check's bug must not hide the others' results
        return _result(id_, "fail", f"the check itself failed: {type(exc).__name__}: {exc}",
                       "", "")


async def stream(cfg: Config, look: Lookup, ids: Sequence[str] = IDS,
                 bound: float = BOUND) -> AsyncIterator[CheckResult]:
    """Results as they arrive (the screen shows each at once)."""
    tasks = [asyncio.ensure_future(bounded(i, CHECKS[i](cfg, look), bound)) for i in ids]
    for done in asyncio.as_completed(tasks):
        yield await done


async def run_all(cfg: Config, look: Lookup, ids: Sequence[str] = IDS,
                  bound: float = BOUND) -> list[CheckResult]:
    """Every check at once; results in the order of ``ids``."""
    return list(await asyncio.gather(*(bounded(i, CHECKS[i](cfg, look), bound)
                                       for i in ids)))
