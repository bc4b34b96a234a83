"""SPF: the record to publish (kept for the DNS step) and the check of incoming mail.

The record is stored in the wizard's records file (``/etc/mailwizard/dns.toml``, section
``[spf]``) because publishing is the DNS step's job. Incoming checks run through
postfix-policyd-spf-perl as the master.cf service ``spfcheck`` and a
``check_policy_service`` entry in smtpd_recipient_restrictions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailwizard import dnsrecords, postfix
from mailwizard.facts import records_change
from mailwizard.facts import stored_records as stored_records  # re-exported
from mailwizard.plan import FileChange, Plan
from mailwizard.steps.base import Level, Problem, Proposal, Status, Step, proposal
from mailwizard.system import System
from mailwizard.validate import Invalid

POLICY_PROGRAM = "/usr/sbin/postfix-policyd-spf-perl"
SERVICE_NAME = "spfcheck/unix"
# postconf -M prints an entry with single spaces between fields; this is that form.
SERVICE = f"spfcheck unix - n n - 0 spawn user=policyd-spf argv={POLICY_PROGRAM}"
TIME_LIMIT = "3600"
POLICY_PLAIN = "check_policy_service unix:private/spfcheck"
# Postfix >= 3.0: if the policy service is down, carry on without SPF instead of answering
# every outside RCPT with 451 4.3.5.
POLICY_FAIL_OPEN = "check_policy_service { unix:private/spfcheck, default_action=DUNNO }"
DEFAULT_RECORD = "v=spf1 mx ~all"
RELAY_GUARDS = ("reject_unauth_destination", "defer_unauth_destination")
PERMITS = ("permit_mynetworks", "permit_sasl_authenticated")

# Restrictions whose next list item is their argument (a table, a DNS list, a { } group).
_TAKES_ARG = re.compile(
    r"^(check_[a-z_]+|reject_rbl_client|reject_rhsbl_[a-z_]+|permit_dnswl_client|"
    r"permit_rhswl_client)$"
)


@dataclass(frozen=True)
class SpfAnswers:
    record: str = DEFAULT_RECORD
    check_incoming: bool = True
    # Extra key: on a failed policy service accept the mail unchecked (DUNNO) instead of
    # deferring every outside RCPT with 451 4.3.5. Needs Postfix >= 3.0.
    fail_open: bool = True


def restriction_groups(value: str) -> list[str]:
    """A restriction list as whole restrictions: ``check_policy_service unix:...`` is one."""
    tokens = postfix.split_list(value)
    groups: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if _TAKES_ARG.match(token) and i + 1 < len(tokens):
            groups.append(f"{token} {tokens[i + 1]}")
            i += 2
        else:
            groups.append(token)
            i += 1
    merged: list[str] = []
    for group in groups:  # warn_if_reject modifies the restriction after it
        if merged and merged[-1] == "warn_if_reject":
            merged[-1] = f"warn_if_reject {group}"
        else:
            merged.append(group)
    return merged


def is_spf_policy(group: str) -> bool:
    return group.startswith("check_policy_service") and "private/spfcheck" in group


def merge_restrictions(current: str, on: bool, policy: str) -> list[str]:
    """smtpd_recipient_restrictions with the SPF policy added after the relay guard, or removed.

    The admin's entries stay; an empty list becomes the guide's
    ``permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination, <policy>``.
    """
    groups = restriction_groups(current)
    if not on:
        return [g for g in groups if not is_spf_policy(g)]
    at_policy = [i for i, g in enumerate(groups) if is_spf_policy(g)]
    guards = [i for i, g in enumerate(groups) if g in RELAY_GUARDS]
    if guards and at_policy and at_policy[0] > guards[0]:
        # Already after a guard: keep its place, use the wanted form, drop duplicates.
        out = []
        for i, g in enumerate(groups):
            if is_spf_policy(g):
                if i == at_policy[0]:
                    out.append(policy)
                continue
            out.append(g)
        return out
    groups = [g for g in groups if not is_spf_policy(g)]
    guard = next((i for i, g in enumerate(groups) if g in RELAY_GUARDS), None)
    if guard is not None:
        return [*groups[:guard + 1], policy, *groups[guard + 1:]]
    permits = [p for p in PERMITS if p not in groups]
    return [*permits, *groups, "reject_unauth_destination", policy]


def fail_open_supported(system: System) -> bool:
    return postfix.version_tuple(postfix.version(system) or "0") >= (3, 0)


def staged_postfix(a: SpfAnswers, system: System) -> postfix.Staged | None:
    """main.cf/master.cf staged for ``a`` (None: nothing to change)."""
    now = postfix.params(system)
    policy = POLICY_FAIL_OPEN if a.fail_open and fail_open_supported(system) else POLICY_PLAIN
    current = now.get("smtpd_recipient_restrictions", "")
    wanted = merge_restrictions(current, a.check_incoming, policy)
    set_main: dict[str, str] = {}
    set_services: list[str] = []
    if wanted != restriction_groups(current):
        set_main["smtpd_recipient_restrictions"] = ", ".join(wanted)
    if a.check_incoming:
        if postfix.services(system).get(SERVICE_NAME) != SERVICE:
            set_services.append(f"{SERVICE_NAME}={SERVICE}")
        if now.get("spfcheck_time_limit") != TIME_LIMIT:
            set_main["spfcheck_time_limit"] = TIME_LIMIT
    if not set_main and not set_services:
        return None
    return postfix.stage(system, set_main=set_main, set_services=set_services,
                         why="check the SPF of incoming mail")


def policy_installed(system: System) -> bool:
    return system.exists(POLICY_PROGRAM)


class SpfStep(Step[SpfAnswers]):
    name = "spf"
    title = "SPF"
    answers = SpfAnswers
    blurb = (
        "Which servers may send mail for your domain (a DNS record you publish), and "
        "whether this server checks the SPF of mail it receives."
    )
    help = """\
# SPF

**What it does.** Builds your domain's SPF record (`v=spf1 mx ~all`: the servers in your
MX may send for the domain; others get a soft fail) and keeps it for the DNS step, which
shows it to publish. With *check incoming mail* on, Postfix asks postfix-policyd-spf-perl
about every message from outside: mail that fails the sender's SPF is refused, mail that
passes gets a `Received-SPF: pass` header.

**How.** A `spfcheck` service in master.cf (run as user `policyd-spf`), and
`check_policy_service unix:private/spfcheck` in `smtpd_recipient_restrictions`, *after*
`reject_unauth_destination` (so relay attempts are refused before any DNS lookup) and after
`permit_mynetworks, permit_sasl_authenticated` (your own users are never checked).
`spfcheck_time_limit = 3600` keeps the checker alive as long as Postfix expects.

**If the checker is down.** By default Postfix answers every outside message with
`451 4.3.5` (deferred: senders retry, nothing is lost, but nothing arrives either).
The wizard writes `check_policy_service { unix:private/spfcheck, default_action=DUNNO }`
instead (`fail_open = true`, Postfix 3.0 or later): mail then arrives unchecked while the
checker is broken. SPF is one signal among several, and a server that stops receiving
mail is noticed later than one that receives unchecked mail. Set `fail_open = false` to
defer instead.

**~all or -all.** `~all` (soft fail) asks receivers to be suspicious of other servers;
`-all` asks them to refuse. Start with `~all`; move to `-all` when you are sure every
server that sends as your domain (web shop, newsletter service) is listed.

**Common mistakes.**
- Two SPF records on one name: receivers then treat SPF as broken. Merge them into one.
- More than 10 DNS lookups (`a`, `mx`, `include`, `exists`, `ptr`, `redirect`, including
  those inside included records): receivers give up with a permanent error.
- Forgetting a service that sends as your domain (`include:` it).
"""

    def current(self, system: System) -> SpfAnswers:
        record = stored_records(system).get("spf", {}).get("record", DEFAULT_RECORD)
        groups = restriction_groups(postfix.get(system, "smtpd_recipient_restrictions"))
        policy = [g for g in groups if is_spf_policy(g)]
        return SpfAnswers(
            record=record,
            check_incoming=bool(policy),
            fail_open="default_action=DUNNO" in policy[0] if policy else True,
        )

    def propose(self, a: SpfAnswers, system: System) -> Proposal:
        problems, staged = self._check(a, system)
        return proposal(problems, lambda: self._build(a, system, staged))

    def _check(self, a: SpfAnswers, system: System
               ) -> tuple[list[Problem], postfix.Staged | None]:
        """The problems, and main.cf/master.cf staged once for them."""
        problems: list[Problem] = []
        staged: postfix.Staged | None = None
        try:
            check = dnsrecords.check_spf(a.record)
        except Invalid as exc:
            problems.append(Problem("spf.record", str(exc)))
        else:
            problems.extend(Problem("spf.record", w, "warning") for w in check.warnings)
        if a.check_incoming and not policy_installed(system):
            level: Level = "warning" if system.sandboxed else "error"
            problems.append(Problem(
                "spf.check_incoming",
                f"{POLICY_PROGRAM} is missing: apt-get install postfix-policyd-spf-perl",
                level,
            ))
        if a.check_incoming and a.fail_open and not fail_open_supported(system):
            problems.append(Problem(
                "spf.fail_open",
                "needs Postfix 3.0 or later: mail is deferred while the checker is down",
                "warning",
            ))
        try:
            dnsrecords.read_records(system.read_text(dnsrecords.RECORDS_FILE))
        except Invalid as exc:
            problems.append(Problem("spf", f"{exc}; it will be rewritten", "warning"))
        try:
            staged = staged_postfix(a, system)
        except postfix.StagingError as exc:
            problems.append(Problem("spf", f"postconf refused the change: {exc}"))
        else:
            if staged is not None:
                problems.extend(Problem("spf", f"postconf: {w}") for w in staged.warnings)
        groups = restriction_groups(postfix.get(system, "smtpd_recipient_restrictions"))
        others = [g for g in groups if g.startswith("check_policy_service") and "spf" in g
                  and not is_spf_policy(g)]
        if a.check_incoming and others:
            problems.append(Problem(
                "spf.check_incoming",
                f"another SPF policy is configured ({others[0]}): mail would be checked twice",
                "warning",
            ))
        return problems, staged

    def _build(self, a: SpfAnswers, system: System, staged: postfix.Staged | None) -> Plan:
        files: list[FileChange] = []
        record = dnsrecords.check_spf(a.record).record
        stored = records_change(system, "spf", {"record": record},
                                "the SPF record for the DNS step to publish")
        if stored:
            files.append(stored)
        if staged is not None:
            files.extend(staged.changes)
        postfix_changed = staged is not None and bool(staged.changes)
        return Plan(
            files=tuple(files),
            reload=frozenset({"postfix"}) if postfix_changed else frozenset(),
            steps=(self.name,),
        )

    def status(self, system: System) -> Status:
        record = stored_records(system).get("spf", {}).get("record", "")
        groups = restriction_groups(postfix.get(system, "smtpd_recipient_restrictions"))
        checking = any(is_spf_policy(g) for g in groups)
        shown = (
            f"record: {record or '(not chosen)'}",
            "incoming mail: " + ("checked (spfcheck)" if checking else "not checked"),
        )
        if checking and SERVICE_NAME not in postfix.services(system):
            return Status("problem", "spfcheck service missing from master.cf", shown)
        if checking and not policy_installed(system):
            return Status("problem", "policyd-spf not installed", shown,
                          action="run: apt-get install postfix-policyd-spf-perl (incoming "
                                 "mail is checked with it)")
        if not record:
            return Status("todo", "no record chosen" + (" · incoming checked" if checking
                                                       else ""), shown)
        return Status("ok", record + (" · incoming checked" if checking else ""), shown)
