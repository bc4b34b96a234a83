"""DNS record text, pure: DKIM strings, SPF building and checking, DMARC, the records file.

Nothing here reads the machine. The steps read keys and files and pass the text in; the
screens and the DNS step show what these functions return.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mailwizard.validate import Invalid, covers_public

MAX_STRING = 255  # bytes in one TXT character-string (RFC 1035)

# -- TXT strings ------------------------------------------------------------------------


def split_strings(text: str, limit: int = MAX_STRING) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` bytes (whole characters only)."""
    out: list[str] = []
    buf = ""
    for ch in text:
        if len((buf + ch).encode()) > limit:
            out.append(buf)
            buf = ""
        buf += ch
    if buf or not out:
        out.append(buf)
    return out


def quote_strings(strings: Sequence[str]) -> str:
    """Zone-file form: ``"first" "second"``."""
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


def unquote_strings(text: str) -> list[str]:
    """The quoted strings of a zone-file TXT value (what opendkim-genkey's .txt holds)."""
    return [re.sub(r"\\(.)", r"\1", m) for m in re.findall(r'"((?:[^"\\]|\\.)*)"', text)]


# -- DKIM ---------------------------------------------------------------------------------


def dkim_name(domain: str, selector: str) -> str:
    return f"{selector}._domainkey.{domain}"


def dkim_flat(public_b64: str) -> str:
    """The one-line record for an RSA public key (base64 DER SubjectPublicKeyInfo)."""
    return f"v=DKIM1; h=sha256; k=rsa; p={public_b64}"


def dkim_strings(flat: str) -> list[str]:
    """The record as TXT strings of at most 255 bytes: the tags, then ``p=`` in pieces."""
    at = flat.find("p=")
    head, key = (flat[:at], flat[at:]) if at > 0 else ("", flat)
    return ([head] if head else []) + split_strings(key)


def dkim_p(record: str) -> str | None:
    """The ``p=`` value of a DKIM record (flat or joined strings), spaces removed."""
    for tag in record.split(";"):
        name, sep, value = tag.partition("=")
        if sep and name.strip() == "p":
            return re.sub(r"\s", "", value)
    return None


def pem_body(pem: str) -> str:
    """The base64 between the PEM armour lines."""
    return "".join(line.strip() for line in pem.splitlines()
                   if line.strip() and not line.startswith("-----"))


def _der(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``at``."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[at:at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, at, at + length


def rsa_bits(public_b64: str) -> int | None:
    """Modulus size of an RSA SubjectPublicKeyInfo in base64 (the DKIM ``p=``), or None."""
    try:
        data = base64.b64decode(public_b64, validate=True)
        _, spki, _ = _der(data, 0)  # SubjectPublicKeyInfo SEQUENCE
        _, _, alg_end = _der(data, spki)  # AlgorithmIdentifier
        tag, bits_at, _ = _der(data, alg_end)  # BIT STRING
        if tag != 0x03:
            return None
        _, rsa, _ = _der(data, bits_at + 1)  # RSAPublicKey SEQUENCE (after the pad byte)
        tag, mod, mod_end = _der(data, rsa)  # modulus INTEGER
        if tag != 0x02:
            return None
        modulus = int.from_bytes(data[mod:mod_end], "big")
        return modulus.bit_length()
    except (ValueError, IndexError, binascii.Error):
        return None


# -- SPF ------------------------------------------------------------------------------------

SPF_ALL = ("~all", "-all")
MAX_LOOKUPS = 10  # RFC 7208 4.6.4: more is a permanent error at the receiver
_DOMAIN_SPEC = re.compile(r"^(?:[A-Za-z0-9_-]+|%\{[a-zA-Z][0-9]*r?[-.+,/_=]*\})"
                          r"(?:\.(?:[A-Za-z0-9_-]+|%\{[a-zA-Z][0-9]*r?[-.+,/_=]*\}))*\.?$")
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class SpfParts:
    """The simple form of an SPF record the screen edits with checkboxes and lists."""

    mx: bool = True
    a: bool = False
    ip4: tuple[str, ...] = ()
    ip6: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    all: str = "~all"


def build_spf(parts: SpfParts) -> str:
    """``v=spf1 [mx] [a] ip4:... ip6:... include:... ~all`` (not validated; see check_spf)."""
    terms = ["v=spf1"]
    if parts.mx:
        terms.append("mx")
    if parts.a:
        terms.append("a")
    terms += [f"ip4:{x}" for x in parts.ip4]
    terms += [f"ip6:{x}" for x in parts.ip6]
    terms += [f"include:{x}" for x in parts.include]
    terms.append(parts.all)
    return " ".join(terms)


def spf_parts(record: str) -> SpfParts | None:
    """The simple form of ``record``, or None when it uses more than the form can show."""
    terms = record.split()
    if not terms or terms[0].lower() != "v=spf1" or terms[-1] not in SPF_ALL:
        return None
    mx = a = False
    ip4: list[str] = []
    ip6: list[str] = []
    include: list[str] = []
    for term in terms[1:-1]:
        low = term.lower()
        if low == "mx":
            mx = True
        elif low == "a":
            a = True
        elif low.startswith("ip4:"):
            ip4.append(term[4:])
        elif low.startswith("ip6:"):
            ip6.append(term[4:])
        elif low.startswith("include:"):
            include.append(term[8:])
        else:
            return None
    return SpfParts(mx, a, tuple(ip4), tuple(ip6), tuple(include), terms[-1])


@dataclass(frozen=True)
class SpfCheck:
    record: str  # normalised: single spaces
    lookups: int  # DNS-querying terms in this record (includes count their own on top)
    warnings: list[str] = field(default_factory=list)


def _domain_spec(value: str, term: str) -> None:
    if not value or len(value) > 253 or not _DOMAIN_SPEC.match(value):
        raise Invalid(f"{term!r}: {value!r} is not a domain name")


def _cidr(value: str, term: str, maximum: int) -> None:
    if not value.isdigit() or int(value) > maximum:
        raise Invalid(f"{term!r}: /{value} is not a prefix length (0-{maximum})")


# a/N and mx/N allow every address within /N of each host: a short N is as open as +all.
_SHORTEST_PREFIX = {4: 8, 6: 16}


def _open_prefix(term: str, v4: int, v6: int) -> None:
    if v4 < _SHORTEST_PREFIX[4] or v6 < _SHORTEST_PREFIX[6]:
        raise Invalid(f"{term!r} lets whole swathes of the internet send as you (as open as "
                      f"'+all'): a/mx prefixes are at least /{_SHORTEST_PREFIX[4]} and "
                      f"//{_SHORTEST_PREFIX[6]}, usually none")


def check_spf(record: str) -> SpfCheck:
    """Check an SPF record's syntax (RFC 7208); raise Invalid, or return it with warnings."""
    if any(c in record for c in "\"\n\r\0\\;"):
        raise Invalid("an SPF record is one line without quotes, ';' or '\\'")
    terms = record.split()
    if not terms or terms[0].lower() != "v=spf1":
        raise Invalid('an SPF record starts with "v=spf1", like "v=spf1 mx ~all"')
    warnings: list[str] = []
    lookups = 0
    seen_all = False
    redirect = False
    modifiers: set[str] = set()
    passes: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []  # what "+" terms allow
    for term in terms[1:]:
        if seen_all:
            raise Invalid(f"{term!r} comes after 'all': receivers ignore everything after it")
        mod = re.fullmatch(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)", term)
        if mod:
            name = mod.group(1).lower()
            if name in modifiers:
                raise Invalid(f"{name}= appears twice")
            modifiers.add(name)
            if name in ("redirect", "exp"):
                _domain_spec(mod.group(2), term)
                if name == "redirect":
                    redirect = True
                    lookups += 1
            else:
                warnings.append(f"unknown modifier {term!r} is ignored by receivers")
            continue
        qualifier = term[0] if term[0] in "+-~?" else ""
        body = term[len(qualifier):]
        name = body[:len(body) - len(body.lstrip(_NAME_CHARS))]
        rest = body[len(name):]
        name = name.lower()
        if rest and rest[0] not in ":/":
            raise Invalid(f"{term!r} is not an SPF mechanism")
        arg, cidr = rest[1:] if rest.startswith(":") else "", ""
        if name in ("a", "mx"):
            if rest.startswith(":"):
                arg, slash, tail = arg.partition("/")
                cidr = slash + tail
                if not arg:
                    raise Invalid(f"{term!r}: a domain must follow ':'")
            else:
                cidr = rest
        if name == "all":
            if rest:
                raise Invalid(f"{term!r}: 'all' takes no argument")
            if qualifier in ("", "+"):
                raise Invalid("'+all' lets every server on the internet send as you: "
                              "use ~all or -all")
            if qualifier == "?":
                warnings.append("'?all' says nothing about other servers: prefer ~all or -all")
            seen_all = True
        elif name in ("a", "mx"):
            if arg:
                _domain_spec(arg, term)
            prefixes = re.fullmatch(r"(?:/(\d+))?(?://(\d+))?", cidr)
            if prefixes is None:
                raise Invalid(f"{term!r}: write prefixes as /24 or //64")
            if prefixes.group(1):
                _cidr(prefixes.group(1), term, 32)
            if prefixes.group(2):
                _cidr(prefixes.group(2), term, 128)
            if qualifier in ("", "+"):
                _open_prefix(term, int(prefixes.group(1) or 32), int(prefixes.group(2) or 128))
            lookups += 1
        elif name == "ptr":
            if arg:
                _domain_spec(arg, term)
            warnings.append("'ptr' is slow and deprecated (RFC 7208 5.5): list addresses instead")
            lookups += 1
        elif name in ("include", "exists"):
            if not arg:
                raise Invalid(f"{term!r}: {name} needs a domain, like {name}:_spf.example.net")
            _domain_spec(arg, term)
            lookups += 1
        elif name in ("ip4", "ip6"):
            try:
                net = ipaddress.ip_network(arg, strict=False)
            except ValueError as exc:
                raise Invalid(f"{term!r}: {arg!r} is not an {name} address or network") from exc
            if net.version != int(name[2]):
                raise Invalid(f"{term!r}: {arg!r} is not an IPv{name[2]} address")
            if net.prefixlen == 0:
                raise Invalid(f"{term!r} allows every address: that is no SPF at all")
            if qualifier in ("", "+"):
                passes.append(net)
        else:
            raise Invalid(f"{term!r} is not an SPF mechanism (all, a, mx, ip4, ip6, include, "
                          "exists, ptr) or modifier (redirect=, exp=)")
    share = covers_public(passes)
    if share:
        raise Invalid(f"these ip4/ip6 terms together let {share} send as you, as open as "
                      "'+all': list only your own servers' addresses")
    if not seen_all and not redirect:
        warnings.append("no 'all' at the end: other servers get a neutral result; add ~all")
    if lookups > MAX_LOOKUPS:
        warnings.append(
            f"{lookups} DNS lookups (a, mx, include, exists, ptr, redirect): receivers stop "
            f"at {MAX_LOOKUPS} and treat the record as broken (permerror)"
        )
    elif lookups > MAX_LOOKUPS - 3 and any(
        t.lower().lstrip("+-~?").startswith("include:") for t in terms
    ):
        warnings.append(f"{lookups} DNS lookups here, and each include adds its own: "
                        f"receivers stop at {MAX_LOOKUPS}")
    normal = " ".join(terms)
    if len(normal.encode()) > 450:
        warnings.append("longer than 450 bytes: some receivers cannot fetch it over UDP")
    return SpfCheck(normal, lookups, warnings)


# -- DMARC ----------------------------------------------------------------------------------

DMARC_POLICIES = ("none", "quarantine", "reject")


def dmarc_name(domain: str) -> str:
    return f"_dmarc.{domain}"


def dmarc_record(policy: str, rua: str = "") -> str:
    """``v=DMARC1; p=none; rua=mailto:postmaster@example.com``."""
    if policy not in DMARC_POLICIES:
        raise Invalid(f"policy is one of {', '.join(DMARC_POLICIES)}")
    record = f"v=DMARC1; p={policy}"
    if rua:
        record += f"; rua=mailto:{rua}"
    return record


# -- the records file ------------------------------------------------------------------------

RECORDS_FILE = "/etc/mailwizard/dns.toml"
RECORDS_HEADER = (
    "# The DNS records chosen in mailwizard, for its dns step to publish.\n"
    "# Written by mailwizard (spf and dmarc steps); change them there or in an answers file.\n"
)

Table = dict[str, str]


def read_records(text: str | None) -> dict[str, Table]:
    """Sections of the records file as tables of strings; raise Invalid if not TOML."""
    if not text:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"{RECORDS_FILE} is not valid TOML: {exc}") from exc
    return {name: {k: str(v) for k, v in table.items()}
            for name, table in data.items() if isinstance(table, dict)}


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def write_records(sections: Mapping[str, Mapping[str, str]]) -> str:
    out = [RECORDS_HEADER]
    for name, table in sections.items():
        if not table:
            continue
        out.append(f"\n[{name}]\n")
        out.extend(f"{key} = {_toml_str(value)}\n" for key, value in table.items())
    return "".join(out)


def with_section(text: str | None, name: str, table: Mapping[str, str]) -> str:
    """The records file with section ``name`` replaced (a broken file is rewritten)."""
    try:
        sections = read_records(text)
    except Invalid:
        sections = {}
    sections[name] = dict(table)
    return write_records(sections)
