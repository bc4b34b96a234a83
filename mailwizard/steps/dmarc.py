"""DMARC: the policy record for the DNS step to publish (answers file only, not in the hub).

Stored next to the SPF record in the records file (``/etc/mailwizard/dns.toml``,
section ``[dmarc]``); nothing on the server itself changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailwizard import dnsrecords
from mailwizard.facts import mail_domains, primary_domain, records_change, stored_records
from mailwizard.plan import FileChange, Plan
from mailwizard.steps.base import Problem, Proposal, Status, Step, look_alike_check, proposal
from mailwizard.system import System
from mailwizard.validate import Invalid, address


@dataclass(frozen=True)
class DmarcAnswers:
    policy: str = "none"
    rua: str = ""  # where receivers send daily aggregate reports ("" = no reports)


class DmarcStep(Step[DmarcAnswers]):
    name = "dmarc"
    title = "DMARC"
    answers = DmarcAnswers
    listed = False
    blurb = "What receivers should do with mail that fails both SPF and DKIM for your domain."
    help = """\
# DMARC

**What it does.** Chooses the record published at `_dmarc.DOMAIN`, e.g.
`v=DMARC1; p=none; rua=mailto:postmaster@example.com`. The DNS step shows it to publish.

**Policies.** `none` only asks for reports; `quarantine` asks receivers to put failing mail
in spam; `reject` asks them to refuse it. Start with `none`, read the reports (`rua`) for a
few weeks, then tighten.
"""

    def current(self, system: System) -> DmarcAnswers:
        stored = stored_records(system).get("dmarc", {})
        if stored:
            return DmarcAnswers(stored.get("policy", "none"), stored.get("rua", ""))
        return DmarcAnswers("none", f"postmaster@{primary_domain(system)}")

    def propose(self, a: DmarcAnswers, system: System) -> Proposal:
        return proposal(self._problems(a, system), lambda: self._build(a, system))

    def _problems(self, a: DmarcAnswers, system: System) -> list[Problem]:
        problems: list[Problem] = []
        if a.policy not in dnsrecords.DMARC_POLICIES:
            problems.append(Problem("dmarc.policy",
                                    f"one of {', '.join(dnsrecords.DMARC_POLICIES)}"))
        elif a.policy != "none":
            problems.append(Problem(
                "dmarc.policy",
                f"p={a.policy} acts on every failing message: start with none and read the "
                "reports first", "warning"))
        if a.rua:
            try:
                rua = address(a.rua)
            except Invalid as exc:
                problems.append(Problem("dmarc.rua", str(exc)))
            else:
                look_alike_check(problems, "dmarc.rua", a.rua)
                if "@" not in rua:
                    problems.append(Problem("dmarc.rua", "give a full address, like "
                                                         "postmaster@example.com"))
                else:
                    dests = mail_domains(system)
                    rua_domain = rua.rsplit("@", 1)[1]
                    if dests and rua_domain not in dests:
                        problems.append(Problem(
                            "dmarc.rua",
                            f"reports to another domain ({rua_domain}) need its permission "
                            f"record (DOMAIN._report._dmarc.{rua_domain})", "warning"))
        return problems

    def _build(self, a: DmarcAnswers, system: System) -> Plan:
        rua = address(a.rua) if a.rua else ""
        table = {"policy": a.policy, "rua": rua,
                 "record": dnsrecords.dmarc_record(a.policy, rua)}
        change: FileChange | None = records_change(
            system, "dmarc", table, "the DMARC record for the DNS step to publish")
        return Plan(files=(change,) if change else (), steps=(self.name,))

    def status(self, system: System) -> Status:
        stored = stored_records(system).get("dmarc", {})
        if not stored:
            return Status("todo", "no policy chosen")
        return Status("ok", f"p={stored.get('policy', '?')}", (stored.get("record", ""),))
