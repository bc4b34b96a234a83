"""On a real machine: the password given as password_env reaches no child.

Every command the wizard runs for a full apply (postconf, openssl, saslpasswd2, opendkim,
...) is wrapped by a shim first on PATH that records its environment and argv, then execs
the real program. After the apply the environment and command line of every process left
running (the opendkim daemon the wizard started keeps its environment for its lifetime),
the wizard's output, /var/log, /var/backups and /etc/mailwizard are searched too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import full_answers, run_wizard

pytestmark = pytest.mark.integration

PASSWORD = "Cl3an-Env-Zebra-Harbour-77"
WRAPPED = ("postconf", "postfix", "postmap", "openssl", "saslpasswd2", "sasldblistusers2",
           "opendkim", "opendkim-genkey", "newaliases", "gpasswd", "install", "mv",
           "make-ssl-cert", "hostname", "runuser", "cmp")


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with Namespace(hostname="mail.example.com") as namespace:
        namespace.boot()
        yield namespace


SHIM = """#!/bin/sh
f=/run/mwseen/$$.{name}
env > "$f.env"
printf '%s\\n' "$0" "$@" > "$f.argv"
exec {real} "$@"
"""


def test_the_password_reaches_no_child_environment_argv_or_file(ns: Namespace) -> None:
    shim = ns.tmp / "shim"
    shim.mkdir()
    for name in WRAPPED:
        real = ns.run(f"command -v {name} || true").stdout.strip()
        if real:
            (shim / name).write_text(SHIM.format(name=name, real=real))
            (shim / name).chmod(0o755)
    ns.run("mkdir -p /run/mwseen")
    patterns = ns.tmp / "patterns"  # grep -f: the password never in a command line here
    patterns.write_text(f"{PASSWORD}\nMAILWIZARD_PASSWORD\n")
    answers = ns.tmp / "full.toml"
    answers.write_text(full_answers())
    result = run_wizard(ns, "apply", str(answers),
                        env=f"MAILWIZARD_PASSWORD_POSTMASTER={PASSWORD} PATH={shim}:$PATH")
    assert result.returncode == 0, result.stdout
    assert PASSWORD not in result.stdout
    seen = ns.run("ls /run/mwseen | sed 's/^[0-9]*[.]//; s/[.][a-z]*$//' | sort | uniq -c"
                  ).stdout
    programs = {line.split()[1] for line in seen.splitlines()}
    assert {"postconf", "saslpasswd2", "opendkim", "openssl"} <= programs, seen
    samples = int(ns.run("ls /run/mwseen | grep -c '[.]env$'").stdout)
    assert samples > 20, seen
    found = ns.run(f"""
        grep -rlF -f {patterns} /run/mwseen || true
        for p in /proc/[0-9]*; do
          tr '\\0' '\\n' < $p/environ 2>/dev/null | grep -qF -f {patterns} \\
              && echo "environ of $(cat $p/comm)"
          tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -qF -f {patterns} \\
              && echo "argv of $(cat $p/comm)"
        done
        grep -rlF -f {patterns} /var/log /var/backups /etc/mailwizard 2>/dev/null || true
    """).stdout
    assert found.strip() == "", found
    print(f"secrets sampled: {samples} child environments and argvs, "
          f"{ns.run('ls -d /proc/[0-9]* | wc -l').stdout.strip()} processes, 3 trees; found 0")
    assert ns.run("pgrep -x opendkim || true").stdout.strip(), "opendkim is running"
