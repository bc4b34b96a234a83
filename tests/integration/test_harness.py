"""The isolation harness itself: what runs inside stays inside, and dies with it."""

from __future__ import annotations

import fcntl
import os
import shlex
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import dns.resolver
import pytest

from tests.integration import nsenv
from tests.integration.nsenv import (
    Namespace,
    NsCommandError,
    NsEnvError,
    NsTimeoutError,
    pids_in_pid_namespace,
    run_in_ns,
)

pytestmark = pytest.mark.integration

HOSTNAME = "mx.harness.test"
ZONE = """\
$ORIGIN harness.test.
$TTL 300
@      IN SOA ns1 hostmaster 2024010101 3600 600 86400 300
@      IN NS  ns1
ns1    IN A   127.0.0.1
probe  IN TXT "v=spf1 -all" "second string"
"""


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    """One namespace for the module, Postfix running."""
    with Namespace(hostname=HOSTNAME) as namespace:
        namespace.boot()
        yield namespace


def _resolve_txt(name: str) -> list[bytes]:
    """Resolve TXT with the resolv.conf of wherever this runs."""
    answer = dns.resolver.Resolver().resolve(name, "TXT", lifetime=5)
    return [b"".join(rdata.strings) for rdata in answer]


def _fail() -> None:
    raise ValueError("raised inside")


# -- isolation ----------------------------------------------------------------


def test_files_written_under_etc_stay_inside(ns: Namespace) -> None:
    probe = Path(f"/etc/mw-harness-{uuid4().hex}")
    ns.run(f"echo inside > {probe}")
    assert ns.run(f"cat {probe}").stdout == "inside\n"
    assert not probe.exists()


def test_hostname_and_network_are_private(ns: Namespace) -> None:
    before = socket.gethostname()
    assert ns.run("hostname").stdout.strip() == HOSTNAME
    assert ns.run("cat /etc/hostname").stdout.strip() == HOSTNAME
    links = ns.run("ip -o link show").stdout.splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    assert socket.gethostname() == before != HOSTNAME


@pytest.mark.parametrize("path", nsenv.OVERLAY_DIRS)
def test_overlays_keep_owner_and_mode(ns: Namespace, path: str) -> None:
    if not os.path.isdir(path):
        assert "overlay" not in ns.run(f"findmnt -n -o FSTYPE {path} || true").stdout
        return
    inside = ns.run(f"findmnt -n -o FSTYPE {path}; stat -c '%U:%G %a' {path}").stdout.split()
    outside = subprocess.run(["stat", "-c", "%U:%G %a", path], capture_output=True, text=True)
    assert inside == ["overlay", *outside.stdout.split()]


def test_debconf_inside_neither_waits_for_nor_writes_the_host_database(ns: Namespace) -> None:
    """make-ssl-cert (the TLS step) takes debconf's lock: apt or another test's namespace
    holding the host's lock must not fail an apply inside, and nothing inside reaches it."""
    config = Path("/var/cache/debconf/config.dat")
    before = config.read_bytes()
    with config.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        ns.run("echo 'mw-harness mw-harness/probe string inside' | debconf-set-selections")
        found = ns.run("grep -c '^Name: mw-harness/probe$' /var/cache/debconf/config.dat").stdout
    assert found.strip() == "1"
    assert config.read_bytes() == before


# -- daemons --------------------------------------------------------------------


def test_postfix_delivers_to_root_mailbox(ns: Namespace) -> None:
    token = uuid4().hex
    ns.run(
        f"""
        swaks --server 127.0.0.1 --to "root@$(postconf -h myhostname)" \\
              --from probe@example.net --header "Subject: {token}" --body hello >/dev/null
        mw_wait_mail /var/mail/root {token} 30
        """
    )
    mailbox = Path("/var/mail/root")
    assert not mailbox.exists() or token not in mailbox.read_text(errors="replace")


def test_nsd_answers_txt_for_the_served_zone(ns: Namespace) -> None:
    ns.run(f"mw_nsd {shlex.quote(ZONE)}")
    dig = ns.run("dig +short +time=2 +tries=1 TXT probe.harness.test @127.0.0.1").stdout
    assert dig.strip() == '"v=spf1 -all" "second string"'
    assert ns.call(_resolve_txt, "probe.harness.test") == [b"v=spf1 -allsecond string"]


def test_nsd_serves_a_second_zone_and_keeps_the_first(ns: Namespace) -> None:
    other = ZONE.replace("harness.test.", "other.test.").replace("-all", "~all")
    ns.run(f"mw_nsd {shlex.quote(other)}")
    assert ns.call(_resolve_txt, "probe.other.test") == [b"v=spf1 ~allsecond string"]
    assert ns.call(_resolve_txt, "probe.harness.test") == [b"v=spf1 -allsecond string"]


# -- the API ----------------------------------------------------------------------


def test_run_reports_exit_code_and_output(ns: Namespace) -> None:
    result = ns.run("echo out; echo err >&2; exit 3", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert ns.run("cat", input="fed on stdin").stdout == "fed on stdin"


def test_run_check_raises_with_the_script_and_its_output(ns: Namespace) -> None:
    with pytest.raises(NsCommandError, match=r"(?s)exited 1.*false # the failing line.*boom"):
        ns.run("echo boom >&2\nfalse # the failing line\necho never")


def test_run_timeout_kills_the_script(ns: Namespace) -> None:
    started = time.monotonic()
    with pytest.raises(NsTimeoutError, match="killed after 1"):
        ns.run("sleep 30", timeout=1)
    assert time.monotonic() - started < 10
    assert "sleep 30" not in ns.run("ps -eo args").stdout


def test_call_runs_python_inside(ns: Namespace) -> None:
    assert ns.call(socket.gethostname) == HOSTNAME
    assert ns.call(Path("/etc/resolv.conf").read_text) == "nameserver 127.0.0.1\n"
    inner = ns.call(subprocess.check_output, ["hostname"], text=True)
    assert inner.strip() == HOSTNAME


def test_call_brings_exceptions_back(ns: Namespace) -> None:
    with pytest.raises(ValueError, match="raised inside") as info:
        ns.call(_fail)
    assert any("in namespace" in note for note in info.value.__notes__)
    with pytest.raises(NsEnvError, match="cannot send back"):
        ns.call(lambda: lambda: None)


def test_run_in_ns_is_a_one_shot_namespace() -> None:
    result = run_in_ns("hostname; touch /etc/mw-one-shot", hostname="one.shot.test")
    assert (result.returncode, result.stdout) == (0, "one.shot.test\n")
    assert not Path("/etc/mw-one-shot").exists()


# -- cleanup and failures ------------------------------------------------------------


def test_closing_kills_every_process_and_unmounts() -> None:
    namespace = Namespace(hostname="cleanup.test").start()
    namespace.boot()
    namespace.run("setsid sleep 1000 </dev/null >/dev/null 2>&1 &")
    ns_id, tmp = namespace.pid_namespace, namespace.tmp
    assert len(pids_in_pid_namespace(ns_id)) >= 4  # init, master, qmgr, pickup, sleep
    namespace.close()
    assert pids_in_pid_namespace(ns_id) == []
    assert not tmp.exists()
    assert str(tmp) not in Path("/proc/self/mountinfo").read_text()
    assert not namespace.alive()


def test_no_zombies_after_daemons_exit(ns: Namespace) -> None:
    ns.run("setsid sh -c 'sleep 0.1' </dev/null >/dev/null 2>&1 &\nsleep 0.5")
    table = ns.run("ps -eo stat=,pid=,ppid=,args=").stdout.splitlines()
    assert not [line for line in table if line.startswith("Z")], "\n".join(table)


def test_not_root_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(NsEnvError, match="need root"):
        Namespace().start()


def test_missing_unshare_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NsEnvError, match=r"missing tools .*unshare"):
        Namespace().start()


def test_failed_setup_reports_the_reason() -> None:
    with pytest.raises(NsEnvError, match=r"(?s)set-up failed.*hostname"):
        Namespace(hostname="x" * 100).start()
