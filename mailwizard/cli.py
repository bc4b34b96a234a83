"""`mailwizard [STEP]`, `apply`, `check`, `zone`, `rollback`: a contract that scripts and other
tools rely on (README.md, "Using it").

Exit codes: 0 done (or nothing to do), 1 invalid input (nothing written), 2 apply failed and
every file restored (also when SIGHUP, SIGTERM or SIGINT stopped it, and when another run
held the lock: nothing was written), 3 a verb that is not available yet; 128+N when signal N ended
another verb (or the hub while no apply ran). The TUI's last line says what it applied in the
session (``mailwizard: outcome: ...``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import typing
from collections.abc import Sequence
from pathlib import Path

from mailwizard import __version__, interrupt
from mailwizard.steps.catalog import ENTRIES, LISTED
from mailwizard.system import System, preload

if typing.TYPE_CHECKING:
    from mailwizard.answers import Chosen
    from mailwizard.apply import ApplyResult
    from mailwizard.runlock import Busy

EXIT_OK, EXIT_INVALID, EXIT_FAILED, EXIT_UNAVAILABLE = 0, 1, 2, 3

VERBS: dict[str, str] = {
    "apply": "apply FILE [--dry-run]   headless: plan from an answers file, show the diff, apply",
    "check": "check [--json] [--nameserver HOST[:PORT]] [--ipv4 A] [--ipv6 A]\n"
             "      [--live [--to A] [--source A] [--user U]]\n"
             "                           configuration and DNS report;\n"
             "                           --live: the live SMTP tests",
    "zone": "zone [--ipv4 A] [--ipv6 A]\n"
            "                           the DNS records to publish, as BIND zone lines",
    "rollback": "rollback [ID] [--yes]    show what undoing the last apply (or backup ID)\n"
                "                           changes, ask, restore the files, reload;\n"
                "                           --list: every backup (ID, date, steps, files)",
}
# Verbs that change the machine: as a user who is not root they stop at once, saying so.
ROOT_VERBS = ("apply", "rollback")
UNBUILT_VERBS: set[str] = set()


def _epilog() -> str:
    steps = "\n".join(
        f"  {s.name:<10} {s.title}" + ("" if s.available else "  (not available yet)")
        for s in ENTRIES if s.listed
    )
    verbs = "\n".join(f"  {line}" for line in VERBS.values())
    return (
        f"steps (open one screen directly, e.g. `mailwizard dkim`):\n{steps}\n\n"
        f"verbs:\n{verbs}\n\n"
        "exit codes: 0 ok, 1 invalid answers (nothing written), 2 apply failed, stopped or "
        "refused because another run holds the lock (files restored or untouched; its last "
        "line says which), 3 not available yet"
    )


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; here 2 means "apply failed", so use 1."""

    def error(self, message: str) -> typing.NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mailwizard",
        description="Set up a working Postfix mail server, one reviewed step at a time.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mailwizard {__version__}")
    parser.add_argument("--root", default="/", metavar="DIR",
                        help="treat DIR as / (sandboxes and tests); commands are not run")
    parser.add_argument("command", nargs="?", metavar="STEP|VERB",
                        help="a step to open, or a verb (see below)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _apply_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mailwizard apply",
                                description="Apply an answers file without questions.")
    p.add_argument("file", help="the TOML answers file")
    p.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        print(f"mailwizard: --root {args.root}: not a directory", file=sys.stderr)
        return EXIT_INVALID
    system = System(root=root)
    _sweep_temp_dirs(system)
    with _signals_end_cleanly():
        return _dispatch(system, args)


def _sweep_temp_dirs(system: System) -> None:
    """Remove the temp dirs that killed runs left (``tempdirs``)."""
    import tempfile

    from mailwizard import tempdirs

    places = {tempfile.gettempdir(), str(system.path("/tmp"))}
    tempdirs.sweep(*sorted(places))


@contextlib.contextmanager
def _signals_end_cleanly() -> typing.Iterator[None]:
    """SIGHUP and SIGTERM end the run as an exception would, through every ``finally``
    (temp dirs removed, commands killed), not at once; an apply defers them further."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    old = {s: signal.signal(s, stop) for s in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, previous in old.items():
            signal.signal(s, previous)


def _dispatch(system: System, args: argparse.Namespace) -> int:
    command = args.command
    step_names = set(LISTED)
    if command is None or command in step_names:
        if args.args:
            print(f"mailwizard: unexpected arguments: {' '.join(args.args)}", file=sys.stderr)
            return EXIT_INVALID
        return _run_app(system, command)
    asks_help = bool({"-h", "--help"} & set(args.args))
    if command in ROOT_VERBS and os.geteuid() != 0 and not system.sandboxed and not asks_help:
        print(f"mailwizard {command}: needs root: it changes the mail server's files and "
              "services and keeps its backups in /var/backups/mailwizard (root only); run it "
              "as root, e.g. with sudo (nothing was done)", file=sys.stderr)
        return EXIT_INVALID
    _say_if_interrupted(system)
    if command == "apply":
        return cmd_apply(system, _apply_parser().parse_args(args.args))
    if command == "rollback":
        return cmd_rollback(system, _rollback_parser().parse_args(args.args))
    if command == "zone":
        return cmd_zone(system, _zone_parser().parse_args(args.args))
    if command == "check":
        return cmd_check(system, _check_parser().parse_args(args.args))
    if command in UNBUILT_VERBS:
        print(f"mailwizard {command}: not available yet in this version", file=sys.stderr)
        return EXIT_UNAVAILABLE
    choices = ", ".join(sorted([*step_names, *VERBS]))
    print(f"mailwizard: unknown step or verb {command!r} (choose from {choices})", file=sys.stderr)
    return EXIT_INVALID


def _say_if_interrupted(system: System) -> None:
    """Every verb first says when the last apply never finished (kill -9, power loss);
    the hub says it on screen."""
    from mailwizard import journal

    found = journal.find(system)
    if found is not None:
        print(f"mailwizard: {found.message()}", file=sys.stderr)
    said = journal.unseen(system)
    if said is not None:
        print(f"mailwizard: note: {said}", file=sys.stderr)


def _run_app(system: System, step: str | None) -> int:
    from mailwizard.app import MailWizardApp

    app = MailWizardApp(system, start_step=step, handle_signals=True)
    try:
        app.run()
    except OSError:  # the terminal hung up (SIGHUP): the apply was stopped or finished
        if not _mute_if_hung_up():
            raise
    # The screen is gone: say how it ended (a signal, a quit after an apply), then, last,
    # what this session changed, as `mailwizard apply` ends with its outcome.
    if app.said_on_exit:
        _say(app.said_on_exit, err=True)
    _say(app.session.line(), err=True)
    return app.return_code or EXIT_OK


def cmd_apply(system: System, ns: argparse.Namespace) -> int:
    from mailwizard import answers, runlock
    from mailwizard.steps.base import AnswersError

    try:
        chosen = answers.load(ns.file)
    except AnswersError as exc:
        for problem in exc.problems:
            print(f"mailwizard: {problem}", file=sys.stderr)
        print("mailwizard: nothing was written", file=sys.stderr)
        return EXIT_INVALID
    if ns.dry_run:
        return _plan_and_apply(system, ns, chosen)
    # SIGHUP (an SSH drop), SIGTERM and SIGINT stop the apply at its next safe point,
    # where it restores every file it touched, instead of ending the process mid-way.
    with interrupt.deferred(notify=_signalled) as cancel:
        try:  # plan and apply under one lock: a plan made while another run applies is stale
            with runlock.hold(system):
                return _plan_and_apply(system, ns, chosen, cancel)
        except runlock.Busy as exc:
            print(f"mailwizard: {exc}", file=sys.stderr)
            print(f"mailwizard: outcome: {_busy(exc, 'nothing was written', EXIT_FAILED)}",
                  file=sys.stderr)
            return EXIT_FAILED
        finally:
            _mute_if_hung_up()


def _busy(exc: Busy, nothing: str, code: int) -> str:
    """The last line of a run refused because another holds the lock: the CLI contract's
    code (apply 2, rollback 1), the line saying it was only refused."""
    from mailwizard import runlock

    return (f"BUSY: another mailwizard ({exc.who}) holds {runlock.LOCK}; {nothing}; run "
            f"this again once that one has finished (exit {code})")


def _signalled(why: str) -> None:
    if why:
        interrupt.write_stderr(f"\nmailwizard: {why}: stopping at the next safe point; every "
                               "file this apply changed will be restored (if it is in its "
                               "last step, it finishes instead)\n")
    else:
        interrupt.write_stderr("mailwizard: still stopping; wait for it (kill -9 would leave"
                               " the apply half done, for `mailwizard rollback`)\n")


def _say(text: str, err: bool = False) -> None:
    """print, but a terminal that hung up (SIGHUP: writes fail with EIO) stops nothing."""
    with contextlib.suppress(OSError):
        print(text, file=sys.stderr if err else sys.stdout, flush=True)


_WAS_TTY: dict[int, bool] = {fd: os.isatty(fd) for fd in (1, 2)}


def _mute_if_hung_up() -> bool:
    """After a hang-up, point stdout and stderr at /dev/null so that the interpreter's
    last flush does not fail the exit code; True if they had hung up."""
    hung_up = False
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
            fd = stream.fileno()
            if _WAS_TTY.get(fd) and not os.isatty(fd):  # a hung-up tty fails tcgetattr
                raise OSError("the terminal hung up")
        except (OSError, ValueError):
            hung_up = True
            with contextlib.suppress(OSError, ValueError):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, stream.fileno())
                os.close(null)
    return hung_up


def _plan_and_apply(system: System, ns: argparse.Namespace, chosen: list[Chosen],
                    cancel: interrupt.Cancel | None = None) -> int:
    from mailwizard import answers
    from mailwizard.apply import INTERRUPTED, Event, apply
    from mailwizard.steps.base import errors

    # Imported while the plan is made: the SASL step checks passwords and renders a
    # template; the commands are the first to need sh.
    sasl = ("zxcvbn", "jinja2") if any(c.step.name == "sasl" for c in chosen) else ()
    preload(*sasl, *(("sh",) if not ns.dry_run and system.run_commands else ()))
    try:
        plan, problems = answers.plan_all(system, chosen)
    except Exception as exc:  # a step could not read the system: say so, write nothing
        print(f"mailwizard: cannot plan: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for problem in problems:
        print(f"mailwizard: {problem}", file=sys.stderr)
    if errors(problems):
        print("mailwizard: nothing was written", file=sys.stderr)
        return EXIT_INVALID
    if plan.is_empty:
        print("Nothing to do: the system already matches the answers.")
        return EXIT_OK
    sys.stdout.write(plan.diff())
    for row in plan.summary():
        if row.kind != "file":
            print(row)
    if ns.dry_run:
        print("Dry run: nothing was written.")
        return EXIT_OK

    restoring = False

    def show(event: Event) -> None:
        nonlocal restoring
        restoring = restoring or (event.kind == "phase" and event.text.startswith("restoring"))
        if event.kind == "line":
            print(f"    {event.text}")
        elif event.kind in ("phase", "fail", "restored", "done", "skip") or restoring:
            print(f"{event.kind}: {event.text}")  # while restoring, also what each daemon does

    result = apply(system, plan, show, cancel)
    if result.ok:
        _say(f"Applied. Backup of the old files: {result.backup}")
        if result.reason:  # a signal during the last step: it finished
            _say(f"mailwizard: {result.reason}", err=True)
        from mailwizard.steps.dkim import made_records, publish_text, rotation_news

        for record in made_records(plan, system):
            _say(publish_text(record).rstrip("\n"))
        news = rotation_news(plan, system)
        if news:
            _say(news.rstrip("\n"))
        return EXIT_OK
    if result.failed == INTERRUPTED:
        _say(f"mailwizard: apply {result.reason}", err=True)
    else:
        _say(f"mailwizard: apply failed at {result.failed}: {result.reason}", err=True)
    if result.backup is None:
        _say("mailwizard: nothing was written", err=True)
    elif result.restored:
        _say(f"mailwizard: every file was restored from {result.backup}", err=True)
    else:
        _say(f"mailwizard: NOT every file could be restored: the old files are in "
             f"{result.backup}", err=True)
    _say(f"mailwizard: outcome: {_outcome(result)} (exit {EXIT_FAILED})", err=True)
    return EXIT_FAILED


def _outcome(result: ApplyResult) -> str:
    """The last line of a failed or stopped apply. The CLI contract gives both exit 2 (not
    applied, files restored): this line tells a stop (a signal, the TUI's quit) from a
    failure, for people and for scripts."""
    from mailwizard.apply import INTERRUPTED

    if result.backup is None:
        files = "nothing was written"
    elif result.restored:
        files = "every file restored"
    else:
        files = "NOT every file restored"
    if result.failed == INTERRUPTED:
        by = result.reason.removeprefix("stopped ").removesuffix(" (nothing was written)")
        return f"STOPPED {by}, not failed; {files}"
    return f"FAILED at {result.failed}; {files}"


def _zone_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mailwizard zone", description="Print the DNS records to publish (A, MX,"
                " SPF, DKIM, DMARC) as BIND zone lines with absolute names; PTR as advice.")
    p.add_argument("--ipv4", metavar="A", help="this server's public IPv4 address")
    p.add_argument("--ipv6", metavar="A", help="this server's public IPv6 address")
    return p


def cmd_zone(system: System, ns: argparse.Namespace) -> int:
    from mailwizard import dns
    from mailwizard.validate import Invalid

    try:
        config = dns.read_config(system, ns.ipv4, ns.ipv6)
        text = dns.zone_text(config)
    except (dns.RecordsError, Invalid) as exc:
        print(f"mailwizard zone: {exc}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(text)
    return EXIT_OK


def _check_parser() -> argparse.ArgumentParser:
    from mailwizard import livecli

    p = _Parser(prog="mailwizard check", description="Judge the server: DNS, configuration and"
                " (with --live) real SMTP sessions. Exit 0: nothing failed; 1: a check failed;"
                " 2: the checks could not run.")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--nameserver", metavar="HOST[:PORT]", help="ask this DNS server")
    p.add_argument("--ipv4", metavar="A", help="this server's public IPv4 address")
    p.add_argument("--ipv6", metavar="A", help="this server's public IPv6 address")
    livecli.add_arguments(p)
    return p


def cmd_check(system: System, ns: argparse.Namespace) -> int:
    from mailwizard import checks, lastreport, livecli, postfix, report

    try:
        request = report.Request(report.parse_nameserver(ns.nameserver), ns.ipv4, ns.ipv6)
        results, seconds = report.run_sync(system, request)
    except (report.ReportError, postfix.StagingError) as exc:
        print(f"mailwizard check: {exc}", file=sys.stderr)
        return checks.EXIT_CHECKS_COULD_NOT_RUN
    lastreport.save(system, results)  # the hub's DNS row says what this run found
    if ns.live:  # the report, then the SMTP sessions: one table, one exit code
        return livecli.main(system, ns, as_json=ns.json, before=results)
    if ns.json:
        print(checks.to_json(results))
    else:
        print(checks.to_table(results))
        where = ns.nameserver or "the system resolver"
        print(f"checks took {seconds:.1f} s (DNS asked: {where})")
    return checks.exit_code(results)


def _rollback_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mailwizard rollback",
                description="Undo an apply: show what changes, ask, restore its files, run "
                            "its undo commands, leave each service as it was before it.")
    p.add_argument("id", nargs="?", metavar="ID",
                   help="the backup to restore (see --list); default: the last apply")
    p.add_argument("--list", action="store_true",
                   help="list the backups (ID, date, steps, result, files) and exit")
    p.add_argument("--yes", action="store_true",
                   help="do not ask (for scripts; without a terminal it is required)")
    return p


def cmd_rollback(system: System, ns: argparse.Namespace) -> int:
    from mailwizard import runlock

    try:
        if ns.list:
            if ns.id or ns.yes:
                print("mailwizard rollback: --list takes no ID and no --yes", file=sys.stderr)
                return EXIT_INVALID
            return _list_backups(system)
        # preview, question and restore under one lock: what was shown is what is undone
        with runlock.hold(system):
            return _rollback_asked(system, ns)
    except runlock.Busy as exc:
        print(f"mailwizard rollback: {exc}", file=sys.stderr)
        print(f"mailwizard rollback: outcome: "
              f"{_busy(exc, 'nothing was restored', EXIT_INVALID)}", file=sys.stderr)
        return EXIT_INVALID
    except PermissionError as exc:
        where = exc.filename or str(exc)
        print(f"mailwizard rollback: permission denied: {where}: needs root (or a --root "
              "DIR whose files you own)", file=sys.stderr)
        return EXIT_INVALID


def _list_backups(system: System) -> int:
    from mailwizard import history

    found = history.entries(system)
    if not found:
        print("mailwizard rollback: no backups yet (nothing was applied)")
        return EXIT_OK
    for entry in found:
        steps = ", ".join(entry.manifest.steps) or "-"
        mark = "  ← `mailwizard rollback` undoes this" if entry.latest else ""
        print(f"{entry.ident}  {entry.manifest.created}  {steps}  {entry.result}{mark}")
        for path in entry.files:
            print(f"    {path}")
    return EXIT_OK


def _rollback_asked(system: System, ns: argparse.Namespace) -> int:
    from mailwizard import history
    from mailwizard.apply import Event, rollback

    try:
        entry = history.rollable(system, ns.id)
    except history.NotRollable as exc:
        print(f"mailwizard rollback: {exc}", file=sys.stderr)
        return EXIT_INVALID
    shown = history.preview(system, entry)
    print(f"Backup {entry.ident} ({entry.manifest.created}; "
          f"{', '.join(entry.manifest.steps) or 'no step named'}; {entry.result}). "
          "Rolling it back changes:")
    sys.stdout.write(shown.diff)
    if shown.changes_nothing:
        print("no file: they are as they were before that apply")
    for line in (*shown.notes, *(f"run: {c}" for c in shown.commands),
                 *(f"service {s}" for s in shown.services), *shown.cannot):
        print(line)
    if shown.later:
        which = "a later apply is" if len(shown.later) == 1 else "later applies are"
        print(f"note: {which} not undone: {', '.join(shown.later)} (files both changed are "
              "put back to before this one)")
    if not ns.yes:
        if not sys.stdin.isatty():
            print("mailwizard rollback: no terminal to ask on: give --yes to roll back without "
                  "a question", file=sys.stderr)
            print("mailwizard rollback: nothing was restored", file=sys.stderr)
            return EXIT_INVALID
        print("Roll back these changes? [y/N] ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            print("mailwizard rollback: nothing was restored", file=sys.stderr)
            return EXIT_INVALID

    def show(event: Event) -> None:
        print(f"{event.kind}: {event.text}")

    result = rollback(system, entry.directory, emit=show)
    if not result.ok:
        print(f"mailwizard rollback: {result.reason}", file=sys.stderr)
        return EXIT_INVALID
    print(f"Restored the files of {result.backup}: they are as they were before that apply.")
    for line in shown.cannot:
        print(line)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
