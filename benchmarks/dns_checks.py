"""DNS checks against a server that never answers: the whole ``mailwizard check`` is bounded
by the query timeout, not by the number of checks (they run side by side).

Baseline: one query, with the same timeout, to the same silent server (dnspython). The
silent server is a UDP socket on loopback that reads and never replies; the configuration
is a sandbox copy of the fresh-Debian fixture with a full host name (``--root``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from mailwizard.dnscheck import QUERY_TIMEOUT

from .timing import ROOT, Figure, command, hyperfine

ONE_QUERY = (
    "import dns.resolver, dns.exception\n"
    "r = dns.resolver.Resolver(configure=False); r.nameservers = ['127.0.0.1']\n"
    "r.port = {port}; r.lifetime = {timeout}\n"
    "try: r.resolve('example.com', 'MX')\n"
    "except dns.exception.Timeout: pass\n"
)


def _silent_server(stop: threading.Event) -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)

    def swallow() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                sock.recvfrom(4096)

    threading.Thread(target=swallow, daemon=True).start()
    return sock, sock.getsockname()[1]


def measure(rounds: int) -> list[Figure]:
    sys.path.insert(0, str(ROOT))
    from tests.support import make_sandbox

    stop = threading.Event()
    sock, port = _silent_server(stop)
    tmp = Path(tempfile.mkdtemp(prefix="mwbench-dns-"))
    try:
        root = make_sandbox(tmp / "root")
        subprocess.run(["postconf", "-c", str(root / "etc/postfix"), "-e",
                        "myhostname=mail.example.com"], check=True)
        check = command(sys.executable, "-m", "mailwizard", "--root", root, "check",
                        "--nameserver", f"127.0.0.1:{port}", "--ipv4", "192.0.2.10")
        one = command(sys.executable, "-c", ONE_QUERY.format(port=port, timeout=QUERY_TIMEOUT))
        t_check, t_one = hyperfine([check, one], max(3, rounds // 3), warmup=0,
                                   ignore_failure=True)
    finally:
        stop.set()
        sock.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return [Figure("all DNS checks, silent server", f"one query's timeout ({QUERY_TIMEOUT:g} s)",
                   t_check, t_one,
                   note="every query times out; MX then its A and the SPF lookups are "
                        "sequential within a check, the checks concurrent")]
