"""Pure validators. Each returns the normalised value or raises ``Invalid`` with a message
that says what is allowed; the screens' Input validators and the answers file both use them.

Anything that could smuggle configuration into main.cf, /etc/aliases or opendkim.conf
(new lines, commas inside one item, ``=``, ``$``, ``#``, quotes, spaces) is refused.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_FORBIDDEN = re.compile(r"[\s,=$#\"'`\\;|<>()\[\]{}]")
# Postfix variables that Debian's own defaults use inside mydestination.
POSTFIX_VARIABLES = ("$myhostname", "$mydomain")


class Invalid(ValueError):
    """The value is not allowed; ``str(exc)`` says what is."""


@dataclass(frozen=True)
class Warning_:
    """A value that is allowed but probably not what the admin wants."""

    message: str


def _one_line(value: str, what: str) -> None:
    """Line breaks are refused anywhere, even at the ends (they would start a new line)."""
    if any(ch in value for ch in "\n\r\0\x0b\x0c\x85\u2028\u2029"):
        raise Invalid(f"{what} must be on one line")


def _no_injection(value: str, what: str) -> None:
    _one_line(value, what)
    bad = _FORBIDDEN.search(value)
    if bad:
        shown = {" ": "a space", "\t": "a tab"}.get(bad.group(), repr(bad.group()))
        raise Invalid(f"{what} cannot contain {shown}")


def _to_ascii(value: str) -> str:
    """IDNA 2008 with UTS 46 mapping (straße.de -> xn--strae-oqa.de), via the ``idna`` package;
    Python's own codec (IDNA 2003) only when that package is missing."""
    try:
        try:
            import idna
        except ImportError:  # pragma: no cover - idna is a dependency
            return value.encode("idna").decode("ascii")
        return str(idna.encode(value, uts46=True).decode("ascii"))
    except UnicodeError as exc:  # idna.IDNAError is a UnicodeError
        raise Invalid("not a valid international domain name") from exc


def _labels(name: str, what: str) -> str:
    if not name:
        raise Invalid(f"{what} is empty")
    _no_injection(name, what)
    name = name.rstrip(".").lower()
    if not name.isascii():
        name = _to_ascii(name)
    if len(name) > 253:
        raise Invalid(f"{what} is longer than 253 characters")
    for label in name.split("."):
        if not label:
            raise Invalid(f"{what} has an empty label (two dots in a row?)")
        if len(label) > 63:
            raise Invalid(f"{what}: each part between dots is at most 63 characters")
        if not _LABEL.match(label):
            raise Invalid(
                f"{what}: use letters, digits and hyphens between dots, "
                "not starting or ending with a hyphen"
            )
    return name


# The Linux kernel's limit for the running host name (sethostname(2): HOST_NAME_MAX).
HOST_NAME_MAX = 64


def fqdn(value: str) -> str:
    """A fully qualified host name such as mail.example.com (at least one dot).

    Nothing is stripped: a space or line break anywhere is refused.
    """
    name = _labels(value, "a host name")
    if "." not in name:
        raise Invalid("a full host name needs a dot, like mail.example.com")
    if len(name) > HOST_NAME_MAX:
        raise Invalid(f"a host name is at most {HOST_NAME_MAX} characters (the kernel's "
                      f"limit; this one has {len(name)}): use a shorter name under your domain")
    if name.rsplit(".", 1)[1].isdigit():
        raise Invalid("a host name cannot end in a number (that looks like an IP address)")
    return name


def domain(value: str) -> str:
    """A mail domain such as example.com (nothing stripped, like fqdn)."""
    name = _labels(value, "a domain")
    if "." not in name:
        raise Invalid("a mail domain needs a dot, like example.com")
    if name.rsplit(".", 1)[1].isdigit():
        raise Invalid("a domain cannot end in a number")
    return name


def destination(value: str) -> str:
    """An entry of mydestination: a domain, ``localhost``, or Debian's ``$myhostname`` forms."""
    if value in POSTFIX_VARIABLES or value == "localhost.$mydomain":
        return value
    for variable in ("localhost.$mydomain", *POSTFIX_VARIABLES):
        if value.startswith(variable):
            # "$myhostname;": the variable is fine; name what follows it.
            _no_injection(value[len(variable):], f"a destination after {variable}")
            raise Invalid(f"{value!r} is not allowed: use {variable} alone, as its own entry")
    name = _labels(value, "a destination")
    if name.rsplit(".", 1)[-1].isdigit():
        raise Invalid("a destination is a domain name, not an address")
    return name


def network(value: str) -> tuple[str, list[Warning_]]:
    """A trusted network in Postfix form: 192.0.2.0/24, 192.0.2.7, [2001:db8::]/32.

    Refuses networks that trust everybody; warns on wide or public ranges.
    """
    _one_line(value, "a network")
    raw = value.strip()
    if not raw:
        raise Invalid("a network is empty")
    if any(ch.isspace() for ch in raw) or "," in raw:
        raise Invalid("give one network per entry, like 192.168.1.0/24")
    if "%" in raw:
        raise Invalid("Postfix does not accept a zone index (%eth0) in a network")
    text = raw
    bracketed = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](/\d{1,3})?", raw)
    if bracketed:
        text = bracketed.group(1) + (bracketed.group(2) or "")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise Invalid(
            "use an address or network like 192.168.1.0/24, 10.0.0.5 or [2001:db8::]/64"
        ) from exc
    # An IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) trusts the IPv4 range it maps.
    mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
    judged: ipaddress.IPv4Network | ipaddress.IPv6Network = net
    if mapped is not None and net.prefixlen >= 96:
        judged = ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}")
    if net.prefixlen == 0 or judged.prefixlen == 0:
        raise Invalid(f"{raw} trusts every address on the internet: that is an open relay")
    _refuse_open([judged], raw)
    warnings: list[Warning_] = []
    wide = judged.prefixlen < (8 if judged.version == 4 else 32)
    if wide:
        warnings.append(
            Warning_(f"{raw} is very wide: every host in it may send mail through this server")
        )
    public = _public_size([judged]) > 0
    if public and judged.prefixlen < _WIDEST_PUBLIC[judged.version]:
        warnings.append(Warning_(
            f"{raw} is a public range wider than /{_WIDEST_PUBLIC[judged.version]}: "
            "every host in it may relay mail"))
    elif public and not wide:
        warnings.append(Warning_(f"{raw} is a public range: every host in it may relay mail"))
    if net.version == 6:
        address = f"::ffff:{mapped}" if mapped is not None else str(net.network_address)
        shown = f"[{address}]/{net.prefixlen}"
    elif net.prefixlen == 32 and "/" not in text:
        shown = str(net.network_address)
    else:
        shown = str(net)
    if "/" in text and not _strict_ok(text):
        warnings.append(Warning_(f"{raw} has host bits set: it means {shown}"))
    return shown, warnings


Net = ipaddress.IPv4Network | ipaddress.IPv6Network

# Address space that is not on the public internet (RFC 6890 and friends); IPv6 public
# unicast is 2000::/3 only.
_NOT_PUBLIC_V4 = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3"))
_PUBLIC_V6 = (ipaddress.IPv6Network("2000::/3"),)
_NOT_PUBLIC_V6 = (ipaddress.IPv6Network("2001:db8::/32"),)
# Public ranges wider than these draw a warning; the refusal starts at _MOST_PUBLIC.
_WIDEST_PUBLIC = {4: 24, 6: 48}
# A union of trusted networks holding more public addresses than one of these is refused:
# no site relays for a public /8 (IPv4) or /16 (IPv6), and 0.0.0.0/1 + 128.0.0.0/1 is all.
_MOST_PUBLIC = {4: 8, 6: 16}


@functools.cache  # worked out when first needed, not at import (the check's start-up)
def _public_ranges(version: int) -> list[Net]:
    ranges: list[Any] = ([ipaddress.IPv4Network("0.0.0.0/0")] if version == 4
                         else list(_PUBLIC_V6))
    for hole in _NOT_PUBLIC_V4 if version == 4 else _NOT_PUBLIC_V6:
        kept: list[Any] = []
        for r in ranges:
            if r.subnet_of(hole):
                continue
            kept.extend(r.address_exclude(hole) if hole.subnet_of(r) else [r])
        ranges = kept
    return ranges


def _overlap(a: Net, b: Net) -> int:
    if a.version != b.version or not a.overlaps(b):
        return 0
    return min(a.num_addresses, b.num_addresses)


def _public_size(nets: list[Net], version: int | None = None) -> int:
    """How many public addresses the union of ``nets`` holds (of one IP version)."""
    total = 0
    for v in (4, 6) if version is None else (version,):
        same: list[Any] = [n for n in nets if n.version == v]
        mine = list(ipaddress.collapse_addresses(same))
        total += sum(_overlap(n, p) for n in mine for p in _public_ranges(v))
    return total


def covers_public(nets: list[Net]) -> str | None:
    """Say how much of the internet ``nets`` hold together when that is too much, else None."""
    for v in (4, 6):
        size = _public_size(nets, v)
        if size > 2 ** ((32 if v == 4 else 128) - _MOST_PUBLIC[v]):
            whole = sum(p.num_addresses for p in _public_ranges(v))
            worth = (32 if v == 4 else 128) - (size.bit_length() - 1)
            return (f"public IPv{v} addresses worth a /{worth} ({size / whole:.2%} of the "
                    f"public IPv{v} internet; at most a /{_MOST_PUBLIC[v]} is allowed)")
    return None


def _refuse_open(nets: list[Net], what: str) -> None:
    share = covers_public(nets)
    if share:
        raise Invalid(f"{what} trusts {share}: that is an open relay; trust your own "
                      f"networks only (public ranges no wider than /{_WIDEST_PUBLIC[4]} "
                      f"for IPv4, /{_WIDEST_PUBLIC[6]} for IPv6)")


def parse_network(shown: str) -> Net:
    """The network a value returned by ``network()`` means (IPv4-mapped judged as IPv4)."""
    net = ipaddress.ip_network(shown.replace("[", "").replace("]", ""), strict=False)
    mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
    if mapped is not None and net.prefixlen >= 96:
        return ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}")
    return net


def networks_together(shown: list[str]) -> None:
    """Refuse a set of networks (each already passed by ``network()``) that, taken together,
    trusts all or much of the internet: 0.0.0.0/1 + 128.0.0.0/1, four /2s, ::/1 + 8000::/1."""
    _refuse_open([parse_network(s) for s in shown], "together, mynetworks")


def _strict_ok(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return False
    return True


_LOCAL = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")


def local_name(value: str) -> str:
    """An alias name (the part before @): letters, digits, dot, underscore, plus, hyphen."""
    _one_line(value, "an alias name")
    name = value.strip().lower()
    if not name:
        raise Invalid("an alias name is empty")
    if name.endswith(":") or ":" in name:
        raise Invalid("an alias name cannot contain ':'")
    _no_injection(name, "an alias name")
    if not _LOCAL.match(name) or name.endswith("."):
        raise Invalid(
            "an alias name uses letters, digits, '.', '_', '+' or '-' "
            "and starts with a letter or digit"
        )
    return name


def address(value: str) -> str:
    """An alias target: a mail address (user@example.com) or a local user name (root)."""
    _one_line(value, "an address")
    text = value.strip()
    if not text:
        raise Invalid("an address is empty")
    if text[0] in "|/:\"" or text.startswith(":include:"):
        raise Invalid("only mail addresses or local user names are allowed (no commands or files)")
    if "@" not in text:
        return local_name(text)
    local, _, dom = text.rpartition("@")
    _no_injection(local, "an address")
    if not local or len(local) > 64 or not re.fullmatch(r"[A-Za-z0-9.!%&*+/?^_{}~-]+", local):
        raise Invalid("the part before @ uses letters, digits and . _ + - only")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise Invalid("the part before @ cannot start or end with a dot, or have two dots in a row")
    return f"{local}@{domain(dom)}"


def selector(value: str) -> str:
    """A DKIM selector: one DNS label, e.g. ``mail`` or ``2026``."""
    _one_line(value, "a selector")
    text = value.strip().lower()
    if not text:
        raise Invalid("a selector is empty")
    _no_injection(text, "a selector")
    if not _LABEL.match(text):
        raise Invalid("a selector uses letters, digits and hyphens only (one label, like mail)")
    return text


def sasl_user(value: str) -> str:
    """A SASL login: user@example.com (the domain becomes the SASL realm)."""
    _one_line(value, "a login")
    text = value.strip()
    if "@" not in text:
        raise Invalid("a login is a full address like alice@example.com")
    local, _, dom = text.rpartition("@")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", local.lower()) or local.endswith("."):
        raise Invalid("the user name uses lower-case letters, digits, '.', '_' or '-'")
    return f"{local.lower()}@{domain(dom)}"


MIN_PASSWORD = 10
MAX_PASSWORD = 256  # saslpasswd2 reads a line into a fixed buffer; mail clients cap it too


def password(value: str, *, user: str = "") -> str:
    """A SASL password: 10 to 256 printable characters, not guessable (zxcvbn, with the login
    and its domain as the first guesses; see ``mailwizard.strength``). Messages never hold it."""
    if any(ch in value for ch in "\n\r\0\x85\u2028\u2029"):
        raise Invalid("a password cannot contain a line break")
    if any(not ch.isprintable() and ch != " " for ch in value):
        raise Invalid("a password uses printable characters only (no tabs, control "
                      "characters or bytes that are not UTF-8)")
    if len(value) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters")
    if len(value) > MAX_PASSWORD:
        raise Invalid(f"a password has at most {MAX_PASSWORD} characters")
    if user and value.lower() in {user.lower(), user.split("@")[0].lower()}:
        raise Invalid("a password cannot be the login name")
    from mailwizard.strength import weakness

    why = weakness(value, user)
    if why:
        raise Invalid(f"this password is too weak: {why}")
    return value


def dkim_bits(value: int | str) -> int:
    try:
        bits = int(value)
    except (TypeError, ValueError) as exc:
        raise Invalid("key size is 2048 or 4096") from exc
    if bits < 2048:
        raise Invalid("keys under 2048 bits are refused by large receivers: use 2048 or 4096")
    if bits not in (2048, 3072, 4096):
        raise Invalid("key size is 2048, 3072 or 4096")
    return bits


def file_path(value: str, what: str = "a file name") -> str:
    """An absolute file name for main.cf (a certificate, a key): one line, no spaces,
    commas, ``$``, ``=`` or ``#`` that Postfix would read as syntax; no ``..`` parts."""
    _one_line(value, what)
    text = value.strip()
    if not text.startswith("/"):
        raise Invalid(f"{what} must be an absolute path, like /etc/ssl/certs/mail.pem")
    bad = re.search(r"[\s,=$#\"'`\\;|<>(){}]", text)
    if bad:
        shown = {" ": "a space", "\t": "a tab"}.get(bad.group(), repr(bad.group()))
        raise Invalid(f"{what} cannot contain {shown}")
    if ".." in text.split("/"):
        raise Invalid(f"{what} cannot contain '..'")
    return text


# -- look-alike names ----------------------------------------------------------------------

# Cyrillic and Greek letters that look like ASCII ones (after Unicode's confusables list).
_LOOKS_LATIN = {
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ӏ": "l", "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y", "в": "b", "к": "k",
    "м": "m", "н": "h", "т": "t", "ο": "o", "α": "a", "ν": "v", "ρ": "p", "υ": "u", "ι": "i",
    "κ": "k", "χ": "x", "τ": "t",
}
# Scripts that are written together in one word (Japanese mixes these).
_ONE_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "BOPOMOFO": "CJK"}


def _script(ch: str) -> str:
    import unicodedata

    word = unicodedata.name(ch, "UNKNOWN").split()[0]
    return _ONE_SCRIPT.get(word, word)


def look_alike(value: str) -> str | None:
    """Why the domain in ``value`` (a host name, domain or address) may not be what it seems,
    showing its A-label (punycode) form; None for plain names.

    Warned: a label mixing scripts (``mаil`` with a Cyrillic а), a label written entirely in
    letters that look like ASCII ones (``аррӏе``), and an ``xn--`` label that is not valid
    punycode. A name that is invalid anyway gives None (its validator says why).
    """
    name = value.rpartition("@")[2].strip().rstrip(".").lower()
    if not name:
        return None
    try:
        ascii_name = name if name.isascii() else _to_ascii(name)
    except Invalid:
        return None
    import idna

    reasons: list[str] = []
    shown: list[str] = []
    for label in ascii_name.split("."):
        unicode = label
        if label.startswith("xn--"):
            try:
                unicode = str(idna.decode(label))
            except (idna.IDNAError, UnicodeError):
                reasons.append(f"{label} is not a valid A-label (punycode): resolvers and "
                               "mail servers may refuse it")
                shown.append(label)
                continue
        shown.append(unicode)
        if unicode.isascii():
            continue
        scripts = sorted({_script(ch) for ch in unicode if ch.isalpha()})
        if len(scripts) > 1:
            words = " and ".join(s.title() for s in scripts)
            reasons.append(f"'{unicode}' mixes {words} letters: it may imitate another name")
        elif scripts and scripts[0] != "LATIN" and all(ch in _LOOKS_LATIN for ch in unicode
                                                       if ch.isalpha()):
            fake = "".join(_LOOKS_LATIN.get(ch, ch) for ch in unicode)
            reasons.append(f"'{unicode}' is written in {scripts[0].title()} letters that look "
                           f"like '{fake}'")
    if not reasons:
        return None
    return (f"{'; '.join(reasons)}. In DNS it is {ascii_name} (shown as "
            f"{'.'.join(shown)}): check that this is the name you mean")
