"""Verify a delivered message's DKIM signature (dkimpy): against the published record,
or, while it is not published yet, against this server's own public key (a warning)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailwizard.checks import Status
from mailwizard.livecontext import LiveContext


@dataclass
class Verdict:
    status: Status
    detail: str
    expected: str = ""
    found: str = ""
    notes: list[str] = field(default_factory=list)


def _published(ctx: LiveContext, name: str) -> tuple[str | None, str]:
    """The TXT record at ``name`` (None: absent) and what happened, in words."""
    import dns.exception
    import dns.resolver

    if ctx.nameserver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [ctx.nameserver[0]]
        resolver.port = ctx.nameserver[1]
    else:
        resolver = dns.resolver.Resolver()
    resolver.lifetime = 5
    resolver.cache = None
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None, "not published"
    except dns.exception.DNSException as exc:
        return None, f"DNS lookup failed ({type(exc).__name__})"
    return "".join(b"".join(r.strings).decode() for r in answer), "published"


def verify(ctx: LiveContext, raw: bytes) -> Verdict:
    import dkim

    from mailwizard.steps.dkim import public_record

    message = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if b"\r\ndkim-signature:" not in b"\r\n" + message.lower().split(b"\r\n\r\n", 1)[0]:
        return Verdict("fail", "The message left this server not signed: opendkim is not "
                       "running or Postfix cannot reach it (smtpd_milters). With "
                       "milter_default_action = accept, mail goes out unsigned.",
                       expected="a DKIM-Signature header", found="none")
    name = f"{ctx.dkim_selector}._domainkey.{ctx.dkim_domain}"
    record, how = _published(ctx, name)
    notes = [f"{name} TXT: {how}"]
    local = public_record(ctx.system, ctx.dkim_domain, ctx.dkim_selector)

    def check(txt: str | None) -> tuple[bool, str]:
        def dnsfunc(qname: bytes, timeout: int = 5) -> bytes | None:
            return txt.encode() if txt is not None else None

        d = dkim.DKIM(message)
        try:
            return bool(d.verify(dnsfunc=dnsfunc)), ""
        except dkim.DKIMException as exc:
            return False, str(exc)

    if record is not None:
        ok, why = check(record)
        if ok:
            return Verdict("pass", f"The signature (d={ctx.dkim_domain}, s={ctx.dkim_selector}) "
                           "verifies against the published record.", notes=notes)
        if local and check(local[1])[0]:
            return Verdict("fail", f"The signature is good, but the record published at {name} "
                           "is not this server's key: publish the record the DNS step shows.",
                           expected=local[1][:60] + "…", found=record[:60] + "…", notes=notes)
        return Verdict("fail", f"The signature does not verify against {name}"
                       + (f": {why}" if why else "."), notes=notes)
    if local is None:
        return Verdict("fail", f"The record at {name} is {how}, and there is no key here to "
                       "check against.", notes=notes)
    ok, why = check(local[1])
    if ok:
        return Verdict("warn", f"The signature verifies against this server's own key, but the "
                       f"record at {name} is {how}: receivers cannot check it until you publish "
                       "it (the DNS step shows it).", expected="published", found=how,
                       notes=notes)
    return Verdict("fail", "The signature does not even verify against this server's own key"
                   + (f": {why}" if why else "."), notes=notes)
