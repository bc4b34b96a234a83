"""Running this checkout's mailwizard inside a test namespace."""

from __future__ import annotations

import json
import mailbox
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.nsenv import Namespace

PROJECT = Path(__file__).resolve().parents[2]
INITS = ("no-init", "systemd")
"""The two paths of services.py a scenario runs on: ``Namespace(systemd=INIT == "systemd")``."""
SASL_USER = "postmaster@example.com"
# An answers file with every section, its password in $MAILWIZARD_PASSWORD_POSTMASTER.
_FULL_ANSWERS = """\
[hostname]
fqdn = "mail.example.com"

[domains]
mydestination = ["$myhostname", "example.com", "localhost.example.com", "localhost"]
mynetworks = ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"]

[aliases]
root = ["mwadmin"]
{extra_aliases}
[tls]
snakeoil = true

[[sasl.users]]
user = "{user}"
password_env = "MAILWIZARD_PASSWORD_POSTMASTER"

[spf]
record = "v=spf1 mx ~all"
check_incoming = true

[dkim]
domain = "example.com"
selector = "mail"
bits = 2048

[dmarc]
policy = "none"
rua = "postmaster@example.com"
"""


def full_answers(extra_aliases: str = "") -> str:
    """The answers file with every section (``extra_aliases``: more lines under [aliases])."""
    return _FULL_ANSWERS.format(user=SASL_USER, extra_aliases=extra_aliases)


def run_wizard(
    ns: Namespace, *args: str, env: str = "", timeout: float = 240.0
) -> subprocess.CompletedProcess[str]:
    """``python -m mailwizard ARGS`` inside ``ns`` from the checkout, stderr in stdout.

    ``env`` is a shell prefix such as ``PATH=/x:$PATH`` (expanded inside the namespace).
    Never raises for a non-zero exit: the tests assert on the code.
    """
    argv = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "mailwizard", *args))
    return ns.run(f"cd {shlex.quote(str(PROJECT))}\n{env} {argv} 2>&1", timeout=timeout,
                  check=False)


def run_python(ns: Namespace, code: str) -> str:
    """Run Python with the project importable inside ``ns``; its stdout. (``sh`` needs
    threads, which a process that only entered the PID namespace, as ``Namespace.call``'s
    child does, cannot start.)"""
    return ns.run(
        f"cd {shlex.quote(str(PROJECT))}\n{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    ).stdout


def add_public_address(ns: Namespace, address: str) -> None:
    """The server's "public" address, on a dummy interface where the kernel has the module,
    else on lo (scope global either way: what the address detection looks for)."""
    ns.run(f"""
        if ip link add mw0 type dummy 2>/dev/null; then
          ip addr add {address}/32 dev mw0; ip link set mw0 up
        else
          ip addr add {address}/32 dev lo
        fi
    """)


def publish_example_zone(ns: Namespace) -> None:
    """Serve example.com with the DKIM record of the key the apply generated."""
    record = run_python(
        ns, "from mailwizard.steps.dkim import public_record\n"
            "from mailwizard.system import System\n"
            "print(public_record(System(), 'example.com', 'mail')[0])"
    ).strip()
    zone = (
        "$ORIGIN example.com.\n$TTL 300\n"
        "@ IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300\n"
        "@ IN NS ns.example.com.\nns IN A 127.0.0.1\nmail IN A 127.0.0.1\n"
        "@ IN MX 10 mail.example.com.\n@ IN TXT \"v=spf1 mx ~all\"\n"
        f"mail._domainkey IN TXT {record}\n"
    )
    ns.run(f"mw_nsd {shlex.quote(zone)} example.com")


def python_json(ns: Namespace, code: str) -> Any:
    """Run mailwizard ``code`` inside ``ns`` (in a process of its own) that sets ``result``;
    return ``result`` through JSON."""
    script = f"import json\n{code}\nprint(json.dumps(result))\n"
    return json.loads(run_python(ns, script).strip().splitlines()[-1])


def delivered(token: str, mbox: str = "/var/mail/root") -> bytes:
    """The message containing ``token`` in ``mbox`` (run with ``Namespace.call``)."""
    box = mailbox.mbox(mbox, create=False)
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        if token.encode() in raw:
            return raw
    raise AssertionError(f"{token} not in {mbox}")


def dkim_verifies(message: bytes) -> bool:
    """dkimpy with its default DNS lookup: resolv.conf -> nsd on 127.0.0.1 (run with
    ``Namespace.call``)."""
    import dkim

    return bool(dkim.verify(message, timeout=5))
