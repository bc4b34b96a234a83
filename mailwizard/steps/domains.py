"""Which domains this server receives mail for, and which networks may send through it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mailwizard import postfix, relay
from mailwizard.facts import mail_domains as mail_domains  # re-exported
from mailwizard.facts import primary_domain as primary_domain  # re-exported
from mailwizard.plan import Plan
from mailwizard.steps.base import (
    AnswersError,
    Problem,
    Proposal,
    Status,
    Step,
    errors,
    look_alike_check,
    proposal,
)
from mailwizard.system import System
from mailwizard.validate import Invalid, destination, network, networks_together

RELAY_GUARDS = relay.RELAY_GUARDS
LOOPBACK = ("127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128")


@dataclass(frozen=True)
class DomainsAnswers:
    mydestination: tuple[str, ...]
    mynetworks: tuple[str, ...]


def safe_relay_restrictions(current: str) -> str:
    """Keep the admin's list; add ``reject_unauth_destination`` when no guard is there."""
    items = postfix.split_list(current)
    if any(item in RELAY_GUARDS for item in items):
        return current
    if not items:
        items = ["permit_mynetworks", "permit_sasl_authenticated"]
    return " ".join([*items, "reject_unauth_destination"])


def has_relay_guard(system: System) -> bool:
    """Whether the effective smtpd_relay_restrictions (defaults and $names evaluated)
    end relaying with reject_ or defer_unauth_destination."""
    items = postfix.split_list(postfix.expanded(system, "smtpd_relay_restrictions"))
    return any(item in RELAY_GUARDS for item in items)


def relay_base(raw: str, system: System) -> str:
    """The list to extend: as written, unless it is a ``${{...} ? {...}}`` expression
    (Postfix's default), which is replaced by what it evaluates to."""
    if "{" in raw and "$" in raw:
        return postfix.expanded(system, "smtpd_relay_restrictions")
    return raw


def _is_loopback(net: str) -> bool:
    try:
        return ipaddress.ip_network(net.replace("[", "").replace("]", ""), strict=False).is_loopback
    except ValueError:
        return False


class DomainsStep(Step[DomainsAnswers]):
    name = "domains"
    title = "Domains"
    answers = DomainsAnswers
    blurb = (
        "The domains this server accepts mail for, and the networks trusted to send "
        "mail through it without a password."
    )
    help = """\
# Domains and trusted networks

**What it does.** Sets `mydestination` (mail for these domains is delivered here) and
`mynetworks` (clients in these networks may send mail anywhere without logging in), and
makes sure `smtpd_relay_restrictions` ends in `reject_unauth_destination` (or Debian's
`defer_unauth_destination`); an expression on `$compatibility_level` there becomes the
plain list it means (`permit_mynetworks, permit_sasl_authenticated,
reject_unauth_destination`).

**Why it matters.** `mynetworks` is the most dangerous line in main.cf: a network that is
too wide turns the server into an *open relay* that spammers find within hours, and the
server's address is then blocked everywhere.

**What the guide says.** Add your main domain to mydestination
(`example.com, mail.example.com, localhost.example.com, localhost`) and keep mynetworks
to the machine itself; add an application server's address only if it cannot log in.

**Common mistakes.**
- `0.0.0.0/0` or a whole provider range in mynetworks (refused / warned here).
- Listing a domain in mydestination that is also handled elsewhere (virtual domains).
- Prefer SASL logins (the SASL step) to trusting networks.
"""

    def current(self, system: System) -> DomainsAnswers:
        return DomainsAnswers(
            mydestination=tuple(postfix.split_list(postfix.get(system, "mydestination"))),
            mynetworks=tuple(postfix.split_list(postfix.get(system, "mynetworks"))),
        )

    def _normalise(self, a: DomainsAnswers) -> tuple[list[str], list[str], list[Problem]]:
        problems: list[Problem] = []
        dests: list[str] = []
        for i, item in enumerate(a.mydestination):
            try:
                value = destination(item)
            except Invalid as exc:
                problems.append(Problem(f"domains.mydestination[{i}]", f"{item!r}: {exc}"))
                continue
            look_alike_check(problems, f"domains.mydestination[{i}]", item)
            if value not in dests:
                dests.append(value)
        nets: list[str] = []
        for i, item in enumerate(a.mynetworks):
            try:
                value, warnings = network(item)
            except Invalid as exc:
                problems.append(Problem(f"domains.mynetworks[{i}]", str(exc)))
                continue
            problems.extend(Problem(f"domains.mynetworks[{i}]", w.message, "warning")
                            for w in warnings)
            if value not in nets:
                nets.append(value)
        try:
            networks_together(nets)
        except Invalid as exc:
            problems.append(Problem("domains.mynetworks", str(exc)))
        return dests, nets, problems

    def propose(self, a: DomainsAnswers, system: System) -> Proposal:
        return proposal(self._problems(a, system), lambda: self._build(a, system))

    def _problems(self, a: DomainsAnswers, system: System) -> list[Problem]:
        dests, nets, problems = self._normalise(a)
        if not a.mydestination:
            problems.append(Problem("domains.mydestination",
                                    "list at least one domain this server receives mail for"))
        host = postfix.get(system, "myhostname")
        if dests and host and host not in dests and "$myhostname" not in dests:
            problems.append(Problem(
                "domains.mydestination",
                f"{host} (this server's name) is not listed: mail to root@{host} would bounce",
                "warning",
            ))
        if a.mynetworks and not any(n in LOOPBACK or _is_loopback(n) for n in nets):
            problems.append(Problem("domains.mynetworks",
                                    "127.0.0.0/8 is missing: local programs must log in",
                                    "warning"))
        return problems

    def _build(self, a: DomainsAnswers, system: System) -> Plan:
        dests, nets, problems = self._normalise(a)
        if errors(problems):  # never plan around a refused entry (validate() first)
            raise AnswersError(errors(problems))
        values = {"mydestination": ", ".join(dests), "mynetworks": " ".join(nets)}
        now = postfix.params(system)
        edits = {k: v for k, v in values.items() if postfix.split_list(now.get(k, "")) !=
                 postfix.split_list(v)}
        why = "domains and trusted networks"
        if relay.on_compatibility_level(now.get("smtpd_relay_restrictions", "")) and \
                "smtpd_relay_restrictions" in postfix.explicit(system):
            # Written in main.cf (Postfix's default copied in, or an older mailwizard's
            # expression): the plain list it means here, with the guard (as the SASL step
            # writes it). Left unset, the default stays unset (it has the guard).
            edits["smtpd_relay_restrictions"] = relay.plain_relay(system, sasl=False)
            why += "; smtpd_relay_restrictions as the plain list its expression means"
        elif not has_relay_guard(system):
            edits["smtpd_relay_restrictions"] = safe_relay_restrictions(
                relay_base(now.get("smtpd_relay_restrictions", ""), system))
        if not edits:
            return Plan(steps=(self.name,))
        staged = postfix.stage(system, set_main=edits, why=why)
        return Plan(files=staged.changes, reload=frozenset({"postfix"}), steps=(self.name,))

    def status(self, system: System) -> Status:
        now = postfix.params(system)
        nets = postfix.split_list(now.get("mynetworks", ""))
        shown = (
            f"mydestination = {now.get('mydestination', '')}",
            f"mynetworks = {now.get('mynetworks', '')}",
        )
        if not has_relay_guard(system):
            return Status("problem", "open relay: no reject_unauth_destination", shown)
        for item in nets:
            try:
                network(item)
            except Invalid:
                return Status("problem", f"mynetworks: {item} trusts too much", shown)
        try:
            networks_together(nets)
        except Invalid:
            return Status("problem", "mynetworks together trust too much of the internet", shown)
        domains = mail_domains(system)
        if not domains:
            return Status("todo", "no mail domain yet", shown)
        more = f" +{len(domains) - 1}" if len(domains) > 1 else ""
        return Status("ok", primary_domain(system) + more, shown)
