"""DKIM: a key in /etc/dkimkeys, opendkim.conf key by key, Postfix's milters, the record.

One signing domain (Domain/KeyFile/Selector in opendkim.conf; several domains
would need KeyTable + SigningTable, which make those three ignored). The key is made
with opendkim-genkey only when it does not exist (or on an explicit ``rotate``); opendkim
listens on ``inet:8891@127.0.0.1`` and Postfix talks to ``inet:127.0.0.1:8891``.

A new selector while opendkim signs with another is a rotation, in two phases: first the
new key is made and its record shown while opendkim keeps signing with the old key (the
rotation waits in ``ROTATION_FILE``); then, with ``published = true`` and only once the DNS
check sees the new record, Selector and KeyFile switch. The old key stays on disk.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Literal

from mailwizard import dns, dnsrecords, opendkim, postfix, services
from mailwizard.checks import CheckResult
from mailwizard.facts import mail_domains, primary_domain
from mailwizard.plan import PRIVATE_DIR, Command, FileChange, Install, Plan
from mailwizard.steps.base import (
    Problem,
    Proposal,
    Status,
    Step,
    errors,
    look_alike_check,
    proposal,
)
from mailwizard.system import System
from mailwizard.validate import Invalid, dkim_bits, domain, selector

DEFAULT_SELECTOR = "mail"
DEFAULT_BITS = 2048
MILTER_PARAMS = ("smtpd_milters", "non_smtpd_milters")
# accept: while opendkim is down mail leaves unsigned instead of waiting in the queue
# (Postfix 3.7's default, tempfail, defers all mail); the hub reports an opendkim that is down.
MILTER_DEFAULT_ACTION = "accept"
KEY_OWNER = "opendkim"
KEY_MODE = 0o600
# Hand-written milter addresses for the same daemon that fail in Postfix's chroot
# ("localhost" does not resolve there without a copied /etc/hosts).
_SAME_MILTER = ("inet:localhost:8891",)


@dataclass(frozen=True)
class DkimAnswers:
    domain: str
    selector: str = DEFAULT_SELECTOR
    bits: int = DEFAULT_BITS
    # Make a new key even though one exists for this selector (the old DNS record stops
    # matching until the new one is published; a new selector is the gentler way).
    rotate: bool = False
    # The new selector's record is published: switch signing to it (a rotation's second
    # phase; refused until the DNS check sees the record).
    published: bool = False


# A rotation waiting for its DNS record: the new selector, and the one that signs meanwhile.
ROTATION_FILE = "/etc/mailwizard/dkim-rotation.toml"


@dataclass(frozen=True)
class Rotation:
    domain: str
    selector: str  # the new key's, whose record waits to be published
    signing: str  # the selector opendkim signs with until the switch


def read_previous(data: bytes | None) -> Rotation | None:
    """A rotation file's content (as backed up in a plan) read back."""
    if not data:
        return None
    try:
        found = tomllib.loads(data.decode("utf-8", "replace"))
        return Rotation(str(found["domain"]), str(found["selector"]), str(found["signing"]))
    except (tomllib.TOMLDecodeError, KeyError):
        return None


def made_records(plan: Plan, system: System) -> list[DkimRecord]:
    """The records of the keys ``plan`` made, read once it is applied: what to publish now."""
    out: list[DkimRecord] = []
    for cmd in plan.commands:
        if cmd.argv[:1] != ("opendkim-genkey",):
            continue
        dom, sel = cmd.argv[cmd.argv.index("-d") + 1], cmd.argv[cmd.argv.index("-s") + 1]
        found = public_record(system, dom, sel)
        if found is None:
            continue
        listed = signed_domains(system).domains
        # Domain lists more than one: opendkim signs each of them with this key.
        for name in (dom, *(n for n in listed if n != dom and dom in listed)):
            out.append(DkimRecord(dnsrecords.dkim_name(name, sel), *found))
    return out


def publish_text(record: DkimRecord) -> str:
    """The record as plain text for a terminal or a log: no box, each form on one line."""
    return (f"Publish this DNS record: TXT at {record.name}\n"
            f"  flat (for DNS panels):  {record.flat}\n"
            f"  split (for zone files): {record.name}. IN TXT ( {record.split} )\n")


def read_rotation(system: System) -> Rotation | None:
    """The pending rotation (None: none, or a file that is not one)."""
    return read_previous(system.read_bytes(ROTATION_FILE))


def rotation_text(rotation: Rotation) -> str:
    return (
        "# mailwizard: a DKIM key rotation waiting for its DNS record (the dkim step).\n"
        f"# opendkim signs with selector {rotation.signing} until the record of "
        f"{rotation.selector} is published\n"
        "# and the dkim step is applied with published = true.\n"
        f'domain = "{rotation.domain}"\nselector = "{rotation.selector}"\n'
        f'signing = "{rotation.signing}"\n'
    )


def published_check(domain_: str, sel: str, key: str) -> CheckResult:
    """The DNS check (``dns.dkim``) for the record of ``sel``: does the system resolver see
    ``key`` at ``sel._domainkey.domain``? Blocking; bounded by the check's own bound."""
    import asyncio  # only when a check runs: not for the hub, nor for a plan

    from mailwizard import dnscheck  # dnspython: only when a check runs (not at the hub)

    config = dns.Config(hostname=domain_, domains=(domain_,), ipv4=(), ipv6=(),
                        dkim_domain=domain_, dkim_selector=sel, dkim_key=key)

    async def run() -> CheckResult:
        return await dnscheck.bounded("dns.dkim",
                                      dnscheck.check_dkim(config, dnscheck.Lookup()),
                                      dnscheck.BOUND)

    return asyncio.run(run())


def key_file(sel: str) -> str:
    return f"{opendkim.KEY_DIR}/{sel}.private"


def txt_file(sel: str) -> str:
    return f"{opendkim.KEY_DIR}/{sel}.txt"


def conf_text(system: System) -> str | None:
    return system.read_text(opendkim.CONF)


def signing_selector(system: System) -> str | None:
    """The selector opendkim signs with now: set in opendkim.conf, its key on disk."""
    conf = conf_text(system) or ""
    sel = (opendkim.get(conf, "Selector") or "").lower()
    keyfile = opendkim.get(conf, "KeyFile") or ""
    return sel if sel and keyfile and system.exists(keyfile) else None


def _key_path(system: System, sel: str) -> str:
    """The key opendkim.conf names for ``sel`` (when it is the configured selector)."""
    conf = conf_text(system) or ""
    configured = opendkim.get(conf, "KeyFile")
    if configured and (opendkim.get(conf, "Selector") or "").lower() == sel:
        return configured
    return key_file(sel)


def public_key(system: System, sel: str) -> str | None:
    """The base64 public key for ``sel``: from the private key (``openssl pkey -pubout``,
    which prints only the public half), else from opendkim-genkey's .txt file."""
    path = _key_path(system, sel)
    if system.exists(path):
        result = system.query(["openssl", "pkey", "-in", str(system.path(path)), "-pubout"])
        if result.ok and "BEGIN PUBLIC KEY" in result.stdout:
            return dnsrecords.pem_body(result.stdout)
    txt = system.read_text(path.removesuffix(".private") + ".txt")
    if txt:
        return dnsrecords.dkim_p("".join(dnsrecords.unquote_strings(txt)))
    return None


def public_record(system: System, domain_: str, sel: str) -> tuple[str, str] | None:
    """The record to publish at ``sel._domainkey.domain``: (quoted strings of at most 255
    bytes each, flat text), or None when there is no key yet."""
    key = public_key(system, sel)
    if not key:
        return None
    flat = dnsrecords.dkim_flat(key)
    return dnsrecords.quote_strings(dnsrecords.dkim_strings(flat)), flat


def key_bits(system: System, sel: str) -> int | None:
    key = public_key(system, sel)
    return dnsrecords.rsa_bits(key) if key else None


def merge_milters(current: str) -> list[str]:
    """The admin's milters with opendkim's added once (a ``localhost`` form replaced)."""
    out: list[str] = []
    for item in postfix.split_list(current):
        item = opendkim.MILTER if item in _SAME_MILTER else item
        if item not in out:
            out.append(item)
    if not any(opendkim.MILTER in item for item in out):
        out.append(opendkim.MILTER)
    return out


def uses_tables(conf: str) -> bool:
    return any(opendkim.get(conf, k) for k in ("KeyTable", "SigningTable"))


def staged_postfix(system: System) -> postfix.Staged | None:
    now = postfix.params(system)
    edits: dict[str, str] = {}
    for name in MILTER_PARAMS:
        wanted = merge_milters(now.get(name, ""))
        if wanted != postfix.split_list(now.get(name, "")):
            edits[name] = ", ".join(wanted)
    if now.get("milter_default_action") != MILTER_DEFAULT_ACTION:
        edits["milter_default_action"] = MILTER_DEFAULT_ACTION
    if not edits:
        return None
    return postfix.stage(system, set_main=edits, why="sign outgoing mail with opendkim")


@dataclass(frozen=True)
class DkimRecord:
    """The TXT record to publish: its name, the quoted strings (≤255 bytes each), flat."""

    name: str
    split: str
    flat: str


@dataclass(frozen=True)
class DkimFacts:
    """``DkimStep.propose()``'s facts: the record, None until the key exists; during a
    rotation, the selector that signs until the switch."""

    record: DkimRecord | None
    signing: str | None = None


# How a plan treats the selector of the answers (see the module docstring).
# direct: sign with it now (the first key, or the selector already signing);
# make: a rotation's new key is made now; wait: its record is not seen yet;
# switch: the DNS shows it, sign with it.
Phase = Literal["direct", "make", "wait", "switch"]


def rotation_news(plan: Plan, system: System) -> str:
    """After an apply: what a rotation's phase means for the admin (plain text, or "")."""
    change = plan.file(ROTATION_FILE)
    if change is None:
        return ""
    if change.after is not None:
        rotation = read_rotation(system)
        if rotation is None:
            return ""
        return (f"Mail is still signed with selector {rotation.signing}. Once the record of "
                f"{rotation.selector} is published, apply again with published = true in "
                "[dkim] (the DKIM screen: tick Published): the switch waits until the DNS "
                "check sees it.\n")
    conf = conf_text(system) or ""
    sel = opendkim.get(conf, "Selector") or ""
    previous = read_previous(change.before)
    if previous is None or sel.lower() == previous.signing:
        return f"Rotation cancelled: mail is signed with selector {sel}, as before.\n"
    old = dnsrecords.dkim_name(previous.domain, previous.signing)
    return (f"Mail is now signed with selector {sel}. Keep {old} published for a few days "
            "(mail signed with the old key may still be on its way), then remove that "
            "record; the old key stays in " + opendkim.KEY_DIR + ".\n")


@dataclass(frozen=True)
class Signed:
    """The domains opendkim signs with its one key (``Domain`` in opendkim.conf, a list).
    The first is the one the form shows and the live test judges; when Domain is unset or
    names a file (``source``: mailwizard cannot tell what it lists), the first mail domain.
    ``skipped``: listed, but not domain names (no record is made for them)."""

    domains: tuple[str, ...]
    source: str = ""
    skipped: tuple[str, ...] = ()


def _signed(conf: str, system: System) -> Signed:
    listed = opendkim.domains(opendkim.get(conf, "Domain"))
    names: list[str] = []
    skipped: list[str] = []
    for name in listed.names:
        try:
            names.append(domain(name))
        except Invalid:
            skipped.append(name)
    return Signed(tuple(names) or (primary_domain(system).lower(),), listed.source,
                  tuple(skipped))


def signed_domains(system: System) -> Signed:
    return _signed(conf_text(system) or "", system)


def signing_domains(system: System) -> tuple[tuple[str, ...], str]:
    """(the domains signed, the file Domain names instead of a list or "")."""
    signed = signed_domains(system)
    return signed.domains, signed.source


def signing_identity(system: System) -> tuple[str, str]:
    """(domain, selector) opendkim signs with now, whatever rotation waits (what the DNS
    check and the live test judge); reads no key (the DNS report reads it once itself).
    With several domains in opendkim.conf's Domain: the first."""
    conf = conf_text(system) or ""
    sel = (opendkim.get(conf, "Selector") or DEFAULT_SELECTOR).lower()
    return _signed(conf, system).domains[0], sel


def signing_answers(system: System) -> DkimAnswers:
    """The answers of what opendkim signs with now, with the bits of its key."""
    domain_, sel = signing_identity(system)
    return DkimAnswers(domain=domain_, selector=sel,
                       bits=key_bits(system, sel) or DEFAULT_BITS)


class DkimStep(Step[DkimAnswers]):
    name = "dkim"
    title = "DKIM signing"
    answers = DkimAnswers
    blurb = (
        "Sign the mail this server sends with a key whose public half you publish in DNS, "
        "so receivers can tell it really comes from your domain."
    )
    help = """\
# DKIM signing

**What it does.** Makes a 2048-bit key with `opendkim-genkey` in `/etc/dkimkeys` (only when
there is none for the selector), owned by `opendkim` with mode 0600; sets `Domain`,
`Selector`, `KeyFile`, `Socket inet:8891@127.0.0.1` and `InternalHosts` in
`/etc/opendkim.conf` (your other lines and comments stay); adds `inet:127.0.0.1:8891` to
Postfix's `smtpd_milters` and `non_smtpd_milters` (next to any milter already there); then
restarts opendkim and reloads Postfix.

**The DNS record.** Publish the public key as TXT at `SELECTOR._domainkey.DOMAIN`. It is
longer than 255 bytes, so it is shown split into several quoted strings (receivers join
them) and flat, for DNS panels that split by themselves. After an apply that made a key, the
apply screen shows it (`c` copies the flat form, over SSH too) and `mailwizard apply`
prints it; on this screen `f7` copies it from any field.

**Who gets signed.** Mail from the networks in Postfix's `mynetworks` (copied to
`/etc/opendkim/trusted.hosts`) and from logged-in users, with a From address in the domain
or any of its subdomains (`SubDomains yes`). So what the server itself sends is signed
too: cron and root's mail (`root@mail.example.com`, as `myorigin` is the host name) and
bounces (`MAILER-DAEMON@mail.example.com`), all with the domain's one key (`d=example.com`),
which DMARC's relaxed alignment accepts; `myorigin` is left as it is. Re-run this step
after changing `mynetworks`.

**If opendkim is down.** The wizard sets `milter_default_action = accept`: Postfix keeps
sending, **unsigned**, instead of deferring every message (`tempfail`, Postfix's default)
until opendkim is back. Your SPF record still vouches for the mail, and nothing waits in
the queue; the hub and the test screen show `opendkim not running` so you notice.

**Rotating the key.** Pick a new selector (e.g. `s2026`) and apply. This is done in two
phases. First the new key is made and its record shown (and printed by `mailwizard apply`),
while opendkim keeps signing with the old key, so nothing fails while the record is not
published yet; the hub shows `! s2026 waits for DNS`. Publish the record, then tick
**Published** on this screen (`f8` checks the DNS again), or apply with `published = true` in
`[dkim]`. The switch happens only when the DNS check (as `mailwizard check` does it, through
this server's resolver) sees the new record; until then it is refused and mail stays signed
with the old key. After the switch, keep the old record published a few days more (mail
signed with it may still be queued or on its way), then remove the old record at your DNS
provider; the old key file stays in `/etc/dkimkeys`. Going back to the old selector before
the switch cancels the rotation. A selector used before still has its old key in
`/etc/dkimkeys` and reuses it: add `rotate = true` for a fresh one. On the selector that signs
now, `rotate = true` replaces its key at once, and mail signed with it fails DKIM until the
new record is published.

**Several domains.** opendkim.conf's `Domain` may list several (`example.com,example.org`):
opendkim signs each with this one key. The list is kept (the form shows its first domain),
and the record must be published at `SELECTOR._domainkey.` each of them: `mailwizard zone`
prints them all and `mailwizard check` checks each. A `Domain` that names a file or a regex
file (`refile:/etc/opendkim/domains`) is left as it is: mailwizard cannot tell which domains
it lists, and says so.

**Common mistakes.**
- 1024-bit keys (opendkim-genkey's default): refused here; large receivers reject them.
- `inet:localhost:8891` on the Postfix side: fails inside Postfix's chroot, and mail leaves
  unsigned without anyone noticing.
- A key readable by group or others: opendkim refuses it.
"""

    def current(self, system: System) -> DkimAnswers:
        """What is configured: the signing key, or the rotation that waits for its record
        (so the form opens on it, and proposing it again changes nothing)."""
        rotation = read_rotation(system)
        if rotation is not None and rotation.signing == signing_selector(system):
            return DkimAnswers(domain=rotation.domain, selector=rotation.selector,
                               bits=key_bits(system, rotation.selector) or DEFAULT_BITS)
        return signing_answers(system)

    def propose(self, a: DkimAnswers, system: System) -> Proposal:
        """The problems, the plan, and the record to publish (``DkimFacts``).

        Postfix's milter edit does not depend on the answers: it is staged once, here. In a
        rotation's second phase this asks the DNS (``published_check``)."""
        problems = self._problems(a, system)
        staged: postfix.Staged | None = None
        try:
            staged = staged_postfix(system)
        except postfix.StagingError as exc:
            problems.append(Problem("dkim", f"postconf refused the change: {exc}"))
        else:
            if staged is not None:
                problems.extend(Problem("dkim", f"postconf: {w}") for w in staged.warnings)
        phase, signing = self._phase(a, system, problems)
        return proposal(problems, lambda: self._build(a, system, staged, phase, signing),
                        self._facts(a, system, problems, signing))

    def _phase(self, a: DkimAnswers, system: System, problems: list[Problem]
               ) -> tuple[Phase, str | None]:
        """Where ``a`` stands in a rotation, and the selector signing meanwhile; adds what the
        admin is to do next, at ``dkim.published``."""
        try:
            dom, sel = domain(a.domain), selector(a.selector)
        except Invalid:
            return "direct", None
        old = signing_selector(system)
        if old is None or sel == old:
            return "direct", None
        if a.rotate or system.info(key_file(sel)) is None:
            problems.append(Problem("dkim.published", (
                f"the key for {sel} is only made now: publish its record first"
                if a.published else
                f"a new key: selector {old} signs until its record is published"), "warning"))
            return "make", old
        key = public_key(system, sel)
        if not a.published:
            problems.append(Problem("dkim.published", (
                f"publish it, then set this; until then selector {old} signs"),
                "warning"))
            return "wait", old
        if errors(problems) or not key:
            return "wait", old
        listed = signed_domains(system).domains
        for each in (dom, *(n for n in listed if n != dom and dom in listed)):
            seen = published_check(each, sel, key)
            if seen.status != "pass":
                at = dnsrecords.dkim_name(each, sel)
                why = seen.found if seen.found.startswith(
                    ("absent", "timed out", "server error")) else f"{at} has another key, or none"
                where = f" at {at}" if each != dom else ""
                problems.append(Problem("dkim.published", (
                    f"not seen in the DNS yet{where} ({why}); selector {old} still signs "
                    "until it is")))
                return "wait", old
        problems.append(Problem("dkim.published", (
            f"the DNS shows it: {sel} signs from now; keep "
            f"{dnsrecords.dkim_name(dom, old)} a few days, then remove it"), "warning"))
        return "switch", old

    def _facts(self, a: DkimAnswers, system: System, problems: list[Problem],
               signing: str | None = None) -> DkimFacts:
        """The record for the domain and selector, once both are valid and a key exists."""
        if any(p.field in ("dkim.domain", "dkim.selector") and p.level == "error"
               for p in problems):
            return DkimFacts(None, signing)
        try:
            dom, sel = domain(a.domain), selector(a.selector)
        except Invalid:
            return DkimFacts(None, signing)
        found = public_record(system, dom, sel)
        if found is None:
            return DkimFacts(None, signing)
        return DkimFacts(DkimRecord(dnsrecords.dkim_name(dom, sel), *found), signing)

    def _problems(self, a: DkimAnswers, system: System) -> list[Problem]:
        problems: list[Problem] = []
        names: dict[str, str] = {}
        for key, fn, value in (("domain", domain, a.domain), ("selector", selector, a.selector)):
            try:
                names[key] = fn(value)
            except Invalid as exc:
                problems.append(Problem(f"dkim.{key}", str(exc)))
            else:
                if key == "domain":
                    look_alike_check(problems, "dkim.domain", value)
        try:
            dkim_bits(a.bits)
        except Invalid as exc:
            problems.append(Problem("dkim.bits", str(exc)))
        conf = conf_text(system)
        if conf is None:
            problems.append(Problem("dkim", f"{opendkim.CONF} is missing: apt-get install "
                                            "opendkim opendkim-tools"))
            return problems
        if uses_tables(conf):
            problems.append(Problem(
                "dkim.domain",
                "opendkim.conf uses KeyTable/SigningTable (several domains): it then ignores "
                "Domain/KeyFile/Selector. Edit it by hand or remove those lines first",
            ))
        if "domain" in names:
            self._listed_problems(problems, opendkim.get(conf, "Domain") or "", names["domain"],
                                  names.get("selector", a.selector))
            dests = mail_domains(system)
            if dests and names["domain"] not in dests:
                problems.append(Problem(
                    "dkim.domain",
                    f"{names['domain']} is not in mydestination ({', '.join(dests)}): only mail "
                    "with a From address in it is signed",
                    "warning",
                ))
        if "selector" in names:
            sel = names["selector"]
            for path in (key_file(sel), txt_file(sel)):
                target = system.link_target(path)
                if target is not None:
                    problems.append(Problem(
                        "dkim.selector",
                        f"{path} is a symbolic link (to {target}), not a key file: someone "
                        f"who can write {opendkim.KEY_DIR} planted it? Remove it (or choose "
                        "another selector); mailwizard never writes through a link"))
            bits = key_bits(system, sel)
            if bits is not None and not a.rotate and bits < a.bits:
                problems.append(Problem(
                    "dkim.bits",
                    f"the existing key for selector {sel} has {bits} bits and is kept: choose a "
                    "new selector, or set dkim.rotate = true to replace it",
                    "warning",
                ))
            if bits is not None and a.rotate and sel == signing_selector(system):
                problems.append(Problem(
                    "dkim.rotate",
                    f"replaces the key of selector {sel}: mail fails DKIM until the new record "
                    "is published (a new selector avoids that)",
                    "warning",
                ))
        return problems

    @staticmethod
    def _listed_problems(problems: list[Problem], written: str, dom: str, sel: str) -> None:
        """What opendkim.conf's Domain, when it is a list or a file, means for ``dom``."""
        listed = opendkim.domains(written)
        if listed.source:
            problems.append(Problem("dkim.domain", (
                f"opendkim.conf's Domain is {listed.source}, which mailwizard cannot read: it "
                f"is left as it is; make sure it lists {dom}, and publish the record at "
                f"{sel}._domainkey.DOMAIN for each domain it lists"), "warning"))
            return
        others = [n for n in listed.names if n != dom]
        if not others:
            return
        if dom in listed.names:
            where = ", ".join(dnsrecords.dkim_name(n, sel) for n in others)
            problems.append(Problem("dkim.domain", (
                f"opendkim also signs {', '.join(others)} with this key (Domain {written}, "
                f"kept): publish the same record at {where} too"), "warning"))
        elif len(listed.names) > 1:
            problems.append(Problem("dkim.domain", (
                f"replaces Domain {written}: mail from {' or '.join(others)} is no longer "
                "signed"), "warning"))

    def _build(self, a: DkimAnswers, system: System, staged: postfix.Staged | None,
               phase: Phase = "direct", signing: str | None = None) -> Plan:
        dom, sel, bits = domain(a.domain), selector(a.selector), dkim_bits(a.bits)
        files: list[FileChange] = []
        commands: list[Command] = []
        private, txt = key_file(sel), txt_file(sel)

        # The key: made only when missing (or on rotate), then owner opendkim and mode
        # 0600 (RequireSafeKeys refuses a group- or world-readable key).
        if not system.exists(opendkim.KEY_DIR):
            commands.append(Command(
                ("install", "-d", "-o", KEY_OWNER, "-g", KEY_OWNER, "-m", "0700",
                 opendkim.KEY_DIR), "the directory for DKIM keys"))
        # /etc/dkimkeys is opendkim's: the key is made in a root-only directory and put in
        # place by descriptor (never following a link the opendkim user planted there).
        info = system.info(private)
        if info is None or a.rotate:
            commands.append(Command(
                ("opendkim-genkey", "-b", str(bits), "-d", dom, "-s", sel, "-D", PRIVATE_DIR),
                f"make a {bits}-bit key for {dnsrecords.dkim_name(dom, sel)}; opendkim reads "
                "it as user opendkim and refuses keys others can read",
                touches=(private, txt), timeout=300,
                installs=tuple(Install(dest, KEY_MODE, KEY_OWNER, KEY_OWNER, dest.rsplit("/")[-1])
                               for dest in (private, txt))))
        elif (info.owner, info.group, info.mode) != (KEY_OWNER, KEY_OWNER, KEY_MODE):
            commands.append(Command(
                (), "opendkim reads its key as user opendkim and refuses keys others can read",
                touches=(private,),
                installs=(Install(private, KEY_MODE, KEY_OWNER, KEY_OWNER),)))

        # opendkim.conf, key by key; InternalHosts from Postfix's mynetworks
        # (opendkim signs only mail from InternalHosts or authenticated clients). In a
        # rotation's first phase opendkim keeps its Domain, Selector and KeyFile.
        before = conf_text(system) or ""
        signs: dict[str, str | None] = {"Domain": dom, "Selector": sel, "KeyFile": private} \
            if phase in ("direct", "switch") else {}
        listed = opendkim.domains(opendkim.get(before, "Domain"))
        if signs and (listed.source or dom in listed.names):
            # The admin's list already has it (kept as written), or a file mailwizard cannot
            # read (kept; _problems says so).
            del signs["Domain"]
        after = opendkim.edit(before, {
            **signs,
            "Socket": opendkim.SOCKET,
            "InternalHosts": opendkim.TRUSTED_HOSTS,
            # Mail the server itself sends (root@mail.example.com, cron, bounces from
            # MAILER-DAEMON@$myhostname) is from a subdomain: sign it with this key too.
            "SubDomains": "yes",
        })
        if after != before:
            files.append(FileChange(opendkim.CONF, before.encode(), after.encode(),
                                    why="sign as " + dnsrecords.dkim_name(dom, sel)))
        hosts = opendkim.trusted_hosts(postfix.split_list(postfix.get(system, "mynetworks")))
        trusted_before = system.read_bytes(opendkim.TRUSTED_HOSTS)
        trusted_after = opendkim.trusted_hosts_file(hosts).encode()
        if trusted_before != trusted_after:
            files.append(FileChange(opendkim.TRUSTED_HOSTS, trusted_before, trusted_after,
                                    mode=0o644, owner="root", group="root",
                                    why="clients whose mail opendkim signs (mynetworks)"))
        # opendkim reads its configuration and the signing key when it starts: a rotation's
        # new key alone does not need a restart.
        dkim_changed = bool(files) or (phase in ("direct", "switch") and bool(commands))
        rotation = self._rotation_change(system, Rotation(dom, sel, signing or "")
                                         if phase in ("make", "wait") else None)
        if rotation is not None:
            files.append(rotation)
        if not dkim_changed and not services.opendkim_running(system):
            # Configured, but stopped: today's answers start it (the hub's ✖ has a fix).
            commands.extend(Command(argv, "opendkim is not running: start it (mail leaves "
                                    "unsigned until it runs)", timeout=60)
                            for argv in services.start_commands(system, "opendkim"))

        if staged is not None:
            files.extend(staged.changes)
        postfix_changed = staged is not None and bool(staged.changes)
        checks = (Command(("opendkim", "-n", "-x", opendkim.CONF),
                          "opendkim accepts its configuration and key"),) \
            if dkim_changed or commands else ()
        return Plan(
            files=tuple(files),
            commands=tuple(commands),
            reload=frozenset({"postfix"}) if postfix_changed else frozenset(),
            restart=frozenset({"opendkim"}) if dkim_changed else frozenset(),
            checks=checks,
            steps=(self.name,),
        )

    @staticmethod
    def _rotation_change(system: System, wanted: Rotation | None) -> FileChange | None:
        """The rotation file as ``wanted`` (None: removed: done, or cancelled)."""
        before = system.read_bytes(ROTATION_FILE)
        after = rotation_text(wanted).encode() if wanted is not None else None
        if before == after:
            return None
        if after is None:
            assert before is not None
            previous = read_previous(before)
            why = (f"the rotation to {previous.selector} is over" if previous is not None
                   else "not a rotation")
        else:
            why = f"opendkim signs with {wanted.signing} until {wanted.selector} is published" \
                if wanted is not None else ""
        return FileChange(ROTATION_FILE, before, after, mode=0o644, owner="root",
                          group="root", why=why)

    def status(self, system: System) -> Status:
        conf = conf_text(system)
        if conf is None:
            return Status("todo", "opendkim not installed")
        dom = opendkim.get(conf, "Domain") or ""
        sel = (opendkim.get(conf, "Selector") or "").lower()
        keyfile = opendkim.get(conf, "KeyFile") or ""
        milters = postfix.split_list(postfix.get(system, "smtpd_milters"))
        shown = (
            f"Domain = {dom or '(unset)'}, Selector = {sel or '(unset)'}",
            f"KeyFile = {keyfile or '(unset)'}",
            f"Socket = {opendkim.get(conf, 'Socket') or '(unset)'}",
            f"smtpd_milters = {', '.join(milters) or '(none)'}",
        )
        if not (dom and sel and keyfile) or not system.exists(keyfile):
            return Status("todo", "no key", shown)
        name = f"{sel}._domainkey"
        info = system.info(keyfile)
        if info is not None and info.mode & 0o077:
            return Status("problem", f"{keyfile} readable by others: opendkim refuses it", shown)
        if not any(opendkim.MILTER in m for m in milters):
            return Status("warn", f"{name}: Postfix does not use opendkim", shown)
        if not services.opendkim_running(system):
            return Status("problem", "opendkim not running", shown)
        rotation = read_rotation(system)
        if rotation is not None and rotation.signing == sel:
            return Status("warn", f"{rotation.selector} waits for DNS", (
                *shown, f"Rotation: signing with {sel} until {rotation.selector}'s record is "
                "published"))
        return Status("ok", name, shown)
