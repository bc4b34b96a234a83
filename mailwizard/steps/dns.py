"""DNS records: not a step that writes, a check that judges: it plans nothing,
and its results come from ``mailwizard.dnscheck``.

It is listed in the hub so the admin can open the DNS screen; its status is the last
report saved by `mailwizard check` or the DNS screen, with its age (``mailwizard.lastreport``).
"""

from __future__ import annotations

from mailwizard import lastreport
from mailwizard.plan import Plan
from mailwizard.steps.base import Proposal, State, Status, Step
from mailwizard.system import System


class DnsStep(Step[None]):
    name = "dns"
    title = "DNS records"
    answers = type(None)
    parseable = False  # nothing to answer: the records follow from the other steps
    blurb = ("The records to publish at your DNS host (A, MX, SPF, DKIM, DMARC; PTR at your "
             "hosting provider), and a check that the world sees each of them.")
    help = """\
# DNS records

**What it does.** Lists every record to publish, made from the configured server (Postfix,
`/etc/mailwizard/dns.toml`, the DKIM key on disk), and asks DNS whether each one is there.
Nothing on the server changes.

**Keys.** `c` copies the selected record's value in the form a registrar's web form wants
(it works over SSH: OSC 52); `s` saves the zone text to `/etc/mailwizard/zone.txt`; `r`
checks again. The same checks run headless: `mailwizard check`, and `mailwizard zone`
prints the zone.

**Absent, timed out, server error.** A record that is *absent* is not published (or not
yet: ask the domain's own server with `mailwizard check --nameserver NS`, which has no
cache). *Timed out* and *server error* mean the question got no usable answer: try again,
or ask another server; they do not say the record is missing.

**Common mistakes.**
- A registrar that appends the domain to every name: type `mail`, not `mail.example.com.`.
- Pasting the DKIM record with its quotes into a form: use the one-line value (`c`).
- Waiting for a TTL: the authoritative server answers at once; resolvers cache.
"""

    def current(self, system: System) -> None:
        return None

    def propose(self, a: None, system: System) -> Proposal:
        return Proposal((), Plan(), None)

    def status(self, system: System) -> Status:
        saved = lastreport.load(system)
        if saved is None:
            return Status("todo", "not checked yet", ("open it to check the records",))
        results = saved.results
        counts = {s: sum(1 for r in results if r.status == s) for s in ("fail", "warn", "pass")}
        # Short enough for the hub's column at 120x40: passes only when nothing else.
        shown = [f"{counts[s]} {s}" for s in ("fail", "warn") if counts[s]] or \
            [f"{counts['pass']} pass"]
        failed = tuple(f"✖ {r.id}: {r.detail}" for r in results if r.status == "fail")
        state: State = "problem" if counts["fail"] else "warn" if counts["warn"] else "ok"
        checked = (f"checked {saved.at:%Y-%m-%d %H:%M} UTC: {counts['pass']} of {len(results)} "
                   "passed; r on the DNS screen checks again")
        return Status(state, ", ".join([*shown, saved.age()]), (*failed[:4], checked))
