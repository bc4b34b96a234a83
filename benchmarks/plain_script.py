"""The plain shell script an admin would run for a plan: the same files, commands, checks
and service controls as ``mailwizard apply``, without backups, manifest, lock or checks of
its own. ``python -m benchmarks.plain_script ANSWERS OUT_DIR`` (inside the namespace, from
the fresh state) writes OUT_DIR/plain.sh, the files it installs, and the commands' stdin.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from mailwizard import answers
from mailwizard.plan import PRIVATE_DIR, Plan
from mailwizard.secret import Secret
from mailwizard.services import postfix_running, start_commands
from mailwizard.system import System


def plan_for(system: System, path: str) -> Plan:
    """The plan ``mailwizard apply PATH`` makes (every section, in order)."""
    plan, problems = answers.plan_all(system, answers.load(path))
    if any(p.level == "error" for p in problems):
        raise SystemExit(f"cannot plan: {'; '.join(map(str, problems))}")
    return plan


def script(system: System, plan: Plan, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    q = shlex.quote
    lines = ["set -euo pipefail"]
    for i, change in enumerate(plan.changed_files()):
        if change.after is None:
            lines.append(f"rm -f {q(change.path)}")
            continue
        src = out / f"file{i}"
        src.write_bytes(change.after)
        if change.mode is not None or change.owner is not None or change.before is None:
            mode = f"{change.mode if change.mode is not None else 0o644:o}"
            owner = f" -o {q(change.owner)}" if change.owner else ""
            group = f" -g {q(change.group)}" if change.group else ""
            lines.append(f"install -D -m {mode}{owner}{group} {q(str(src))} {q(change.path)}")
        else:
            lines.append(f"cat {q(str(src))} > {q(change.path)}")
    for i, cmd in enumerate(plan.commands):
        private = PRIVATE_DIR in cmd.argv
        if private:
            lines.append("d=$(mktemp -d)")
        argv = " ".join("\"$d\"" if a == PRIVATE_DIR else q(a) for a in cmd.argv)
        if argv and cmd.stdin is not None:
            data = cmd.stdin.reveal() if isinstance(cmd.stdin, Secret) else cmd.stdin
            stdin = out / f"stdin{i}"
            stdin.touch(mode=0o600)
            stdin.write_text(data)
            argv += f" < {q(str(stdin))}"
        if argv:
            lines.append(f"{argv} > /dev/null")
        for item in cmd.installs:
            meta = f"-m {item.mode:o} -o {q(item.owner)} -g {q(item.group)}"
            if item.source is None:
                lines.append(f"chmod {item.mode:o} {q(item.dest)}; "
                             f"chown {q(item.owner)}:{q(item.group)} {q(item.dest)}")
            else:
                lines.append(f"install {meta} \"$d\"/{q(item.source)} {q(item.dest)}")
        if private:
            lines.append('rm -rf "$d"')
    if plan.checks_postfix:
        lines.append("postfix check")
    lines += [" ".join(map(q, c.argv)) + " > /dev/null" for c in plan.checks]
    for name in sorted(plan.restart | plan.reload):
        if name == "postfix":
            verb = "reload" if name not in plan.restart else "stop; postfix start"
            lines.append(f"postfix {verb}" if postfix_running(system) else "postfix start")
        elif name == "opendkim":
            lines.append("[ -s /run/opendkim/opendkim.pid ] && "
                         "kill \"$(cat /run/opendkim/opendkim.pid)\" && for _ in $(seq 500); "
                         "do [ -e /run/opendkim/opendkim.pid ] || break; sleep 0.01; done || true")
            lines += [" ".join(map(q, argv)) for argv in start_commands(system, name)]
    return "\n".join(lines) + "\n"


def main() -> int:
    answers_file, out_dir = sys.argv[1], Path(sys.argv[2])
    system = System()
    plan = plan_for(system, answers_file)
    (out_dir / "plain.sh").parent.mkdir(parents=True, exist_ok=True)
    text = script(system, plan, out_dir)
    (out_dir / "plain.sh").write_text(text)
    print(len(plan.changed_files()), len(plan.commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
