"""mailwizard.preflight: the checks before the hub and the Postfix install plan."""

from __future__ import annotations

from pathlib import Path

from mailwizard import preflight
from mailwizard.system import System
from tests.support import RecordingRunner, sandbox_system


def test_fresh_debian_as_root_passes(system: System) -> None:
    assert preflight.check(system, euid=0) == []
    assert preflight.distro(system) == "Debian 12"


def test_not_root(system: System) -> None:
    [blocker] = preflight.check(system, euid=1000)
    assert blocker.kind == "root" and blocker.action == "quit"
    assert "sudo mailwizard" in blocker.message


def test_not_debian(sandbox: Path, system: System) -> None:
    (sandbox / "etc/os-release").write_text('NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n')
    [blocker] = preflight.check(system, euid=0)
    assert blocker.kind == "os"
    assert "Fedora 40" in blocker.message


def test_ubuntu_and_derivatives_are_supported(sandbox: Path, system: System) -> None:
    (sandbox / "etc/os-release").write_text('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\n')
    assert preflight.check(system, euid=0) == []
    assert preflight.distro(system) == "Ubuntu 24.04"
    (sandbox / "etc/os-release").write_text("NAME=Mint\nID=linuxmint\nID_LIKE='ubuntu debian'\n")
    assert preflight.is_supported(system)


def test_postfix_missing_offers_install(sandbox: Path, system: System) -> None:
    (sandbox / "etc/postfix/main.cf").unlink()
    [blocker] = preflight.check(system, euid=0)
    assert blocker.kind == "postfix" and blocker.action == "install"


def test_install_plan_preseeds_debconf_and_runs_apt_noninteractive() -> None:
    plan = preflight.install_plan("mail.example.com")
    debconf, update, install = plan.commands
    assert debconf.argv == ("debconf-set-selections",)
    assert debconf.stdin == (
        "postfix postfix/main_mailer_type select Internet Site\n"
        "postfix postfix/mailname string mail.example.com\n"
    )
    assert update.argv[:2] == ("apt-get", "update")
    assert install.argv[:3] == ("apt-get", "install", "-y")
    assert "APT::Status-Fd=1" in install.argv
    assert install.argv[-9:] == (
        "postfix", "sasl2-bin", "libsasl2-modules", "db5.3-util", "opendkim", "opendkim-tools",
        "postfix-policyd-spf-perl", "ssl-cert", "swaks",
    )
    for cmd in (update, install):
        assert cmd.env == {"DEBIAN_FRONTEND": "noninteractive"}


def test_parse_status_lines() -> None:
    assert preflight.parse_status("dlstatus:1:50.0:Retrieving file 1 of 9") == \
        preflight.Progress(15.0, "Retrieving file 1 of 9")
    assert preflight.parse_status("pmstatus:postfix:100:Installed postfix") == \
        preflight.Progress(100.0, "Installed postfix")
    assert preflight.parse_status("Setting up postfix (3.7.11-0+deb12u1) ...") is None


def test_run_install_streams_lines_and_progress(sandbox: Path) -> None:
    runner = RecordingRunner(output="pmstatus:postfix:40:Unpacking postfix\nSetting up postfix\n")
    system = sandbox_system(sandbox, runner)
    lines: list[str] = []
    progress: list[preflight.Progress] = []
    result = preflight.run_install(system, preflight.install_plan("mail.example.com"),
                                   lines.append, progress.append)
    assert result.ok
    assert [c.argv[0] for c in runner.calls] == ["debconf-set-selections", "apt-get", "apt-get"]
    assert runner.calls[0].stdin is not None and "Internet Site" in str(runner.calls[0].stdin)
    assert runner.calls[1].env == {"DEBIAN_FRONTEND": "noninteractive"}
    assert "Setting up postfix" in lines
    assert not any(line.startswith("pmstatus") for line in lines)
    assert preflight.Progress(58.0, "Unpacking postfix") in progress
    assert progress[-1].percent == 100.0


def test_run_install_reports_the_failed_command(sandbox: Path) -> None:
    runner = RecordingRunner(fail_on=lambda argv: argv[:2] == ("apt-get", "update"))
    system = sandbox_system(sandbox, runner)
    result = preflight.run_install(system, preflight.install_plan("mail.example.com"),
                                   lambda line: None, lambda p: None)
    assert not result.ok
    assert result.failed == "apt-get update -q"
    assert len(runner.calls) == 2  # stopped there
