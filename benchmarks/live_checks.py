"""DNS checks against a local nsd serving the complete zone, and ``check --live`` on loopback.

One namespace, ``live_server()`` of ``tests/integration/test_live.py``: the full answers file
applied (real Postfix, opendkim, Cyrus SASL), nsd serving example.com (with the DKIM record of
the generated key and DMARC), example.net and the reverse zone, and the "outside world" sink on
127.0.0.3. hyperfine runs outside and enters the namespace for each command, so every side
pays the same nsenter and interpreter start.

- DNS: ``mailwizard check --nameserver 127.0.0.1`` (every DNS and configuration check) vs the
  slowest, in each round, of the single queries those checks make (one dnspython query per
  process, the same start-up cost as the check).
- Live: ``mailwizard check --live`` (the DNS report and then every live test) vs the DNS
  report alone, in the same rounds.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from .timing import ROOT, Figure, hyperfine

# (name, type) of each query the DNS report makes against the zone.
QUERIES = [("example.com", "MX"), ("mail.example.com", "A"), ("example.com", "TXT"),
           ("mail._domainkey.example.com", "TXT"), ("_dmarc.example.com", "TXT"),
           ("10.2.0.192.in-addr.arpa", "PTR")]
ONE_QUERY = (
    "import sys, dns.resolver\n"
    "r = dns.resolver.Resolver(configure=False); r.nameservers = ['127.0.0.1']\n"
    "r.resolve(sys.argv[1], sys.argv[2])\n"
)


def measure(rounds: int) -> list[Figure]:
    sys.path.insert(0, str(ROOT))
    from tests.integration import test_live as live

    with live.live_server() as ns:
        shared = ns.tmp
        password = shared / "password"
        password.touch(mode=0o600)
        password.write_text(live.PASSWORD)
        enter = shlex.join([*ns._nsenter(), "env", f"PATH={ns._env()['PATH']}", "bash"])
        py = shlex.quote(sys.executable)
        scripts: dict[str, str] = {}

        def script(name: str, body: str) -> str:
            path = shared / f"{name}.sh"
            path.write_text(f"set -e\ncd {shlex.quote(str(ROOT))}\n{body}\n")
            scripts[name] = f"{enter} {path}"
            return scripts[name]

        report = script("report", f"exec {py} -m mailwizard check --nameserver 127.0.0.1 "
                                  "> /dev/null")
        live_run = script("live", f"export MAILWIZARD_PASSWORD=$(cat {password})\n"
                                  f"exec {py} -m mailwizard check --live --to {live.ADMIN} "
                                  f"--user {live.USER} --nameserver 127.0.0.1 > /dev/null")
        queries = [script(f"q{i}", f"exec {py} -c {shlex.quote(ONE_QUERY)} {n} {t}")
                   for i, (n, t) in enumerate(QUERIES)]
        for name, run in scripts.items():  # each works, once, untimed
            done = subprocess.run(shlex.split(run), capture_output=True, text=True)
            if done.returncode and name != "report":
                raise RuntimeError(f"{name}: exit {done.returncode}\n{done.stderr[-2000:]}")
            print(f"  {name}: exit {done.returncode}", file=sys.stderr)
        times = hyperfine([report, live_run, *queries], rounds, ignore_failure=True)
    t_report, t_live, t_queries = times[0], times[1], times[2:]
    slowest = [max(q[r] for q in t_queries) for r in range(len(t_report))]
    return [
        Figure("all DNS checks (`mailwizard check`), local nsd, complete zone",
               f"the slowest of its {len(QUERIES)} single queries (dnspython, one per process)",
               t_report, slowest,
               note="MX, A, SPF, DKIM, DMARC, PTR; both sides start an interpreter in the "
                    "namespace"),
        Figure("`mailwizard check --live` on loopback, full setup applied",
               "the DNS report alone (`mailwizard check`)", t_live, t_report,
               note="real Postfix/opendkim/SASL; send, receive, auth, relay, DKIM, SPF"),
    ]
