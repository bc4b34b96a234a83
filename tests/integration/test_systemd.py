"""The booted-systemd harness itself: ``Namespace(systemd=True)``.

Debian's systemd 252 as PID 1 of the namespace: private /tmp (the checkout seen at its own
path), its own machine ID and journal, nothing left behind; a boot that fails says which
unit and shows systemd's log. The scenarios on it are the parametrised integration modules
(test_full_setup, test_spf_dkim, test_sasl, test_rollback: ``INITS`` in wizard.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.integration.nsenv import CGROUP_PARENT, Namespace, NsEnvError, pids_in_pid_namespace

pytestmark = pytest.mark.integration


def test_a_booted_namespace_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Private /tmp, /run, hostname and cgroup; closing kills every process, removes all.

    A checkout under /tmp (CI clones there) is the working directory: it is seen inside at
    its own path, and systemd-tmpfiles' emptying of /tmp at boot leaves it alone."""
    marker = Path("/tmp") / f"mw-host-marker-{os.getpid()}"
    marker.write_text("host")
    checkout = Path(tempfile.mkdtemp(prefix="mw-checkout-", dir="/tmp"))
    (checkout / "src").mkdir()
    (checkout / "src" / "code.py").write_text("print('checkout')\n")
    monkeypatch.chdir(checkout)
    try:
        with Namespace(hostname="sd.example.test", systemd=True) as ns:
            pid_ns, cgroup, shared = ns.pid_namespace, ns._cgroup, ns.tmp
            assert cgroup is not None and (cgroup / "init.scope").is_dir()
            (ns.tmp / "from-host").write_text("seen\n")
            inside = ns.run(f"ls /tmp; cat {ns.tmp}/from-host; hostname; "
                            "cat /proc/self/cgroup").stdout.split()
            assert marker.name not in inside and "seen" in inside, inside
            assert "sd.example.test" in inside and "0::/init.scope" not in inside
            # Its own machine ID: the journal it reads is its own, not the host's.
            ids = ns.run("cat /etc/machine-id; journalctl --header | sed -n "
                         "'s/^File path: //p'").stdout.split()
            assert ids[0] != Path("/etc/machine-id").read_text().strip(), ids
            assert ids[1:] and all(f"/journal/{ids[0]}/" in f for f in ids[1:]), ids
            code = ns.run(f"cd {checkout} && pwd && python3 src/code.py && python3 "
                          f"{checkout}/src/code.py", check=False)
            assert code.stdout.split() == [str(checkout), "checkout", "checkout"], code
            assert len(pids_in_pid_namespace(pid_ns)) > 3  # systemd, journald, master...
        assert pids_in_pid_namespace(pid_ns) == []
        assert not cgroup.exists() and not shared.exists()
        assert marker.read_text() == "host"
        assert (checkout / "src" / "code.py").read_text() == "print('checkout')\n"
    finally:
        marker.unlink(missing_ok=True)
        shutil.rmtree(checkout, ignore_errors=True)


def test_a_failed_boot_names_the_unit_shows_systemds_log_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A unit failing at boot: NsEnvError names it, shows its journal and systemd's console
    (its status lines), and the namespace, its cgroup and shared directory are gone."""
    made: list[Path] = []

    def mkdtemp(*args: str, **kwargs: str) -> str:
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    broken = ("printf '[Unit]\\nDescription=Broken on purpose\\n[Service]\\nType=oneshot\\n"
              "ExecStart=/bin/sh -c \"echo mw-broken-says-no >&2; exit 3\"\\n' "
              "> /etc/systemd/system/mw-broken.service\n"
              "ln -s ../mw-broken.service /etc/systemd/system/multi-user.target.wants/\n")
    ns = Namespace(hostname="broken.example.test", systemd=True, before_boot=broken)
    with pytest.raises(NsEnvError) as caught:
        ns.start()
    message = str(caught.value)
    assert "state 'degraded'" in message, message
    assert "mw-broken.service" in message.split("--- failed units")[1], message
    assert "mw-broken-says-no" in message, message  # the unit's journal
    console = message.split("--- systemd's console ---")[1]
    assert "[FAILED] Failed to start mw-broken.service" in console, message
    assert not ns.alive() and ns._cgroup is None and ns._tmp is None
    [shared] = made
    assert not shared.exists() and not (Path(CGROUP_PARENT) / shared.name).exists()
