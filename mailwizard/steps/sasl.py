"""SASL logins: the users in sasldb2, its copy in Postfix's chroot, AUTH after STARTTLS, port 587.

Passwords are :class:`~mailwizard.secret.Secret` from the moment they are read (an environment
variable or a file named in the answers file, or the screen's masked inputs) and leave the
process only on ``saslpasswd2 -p``'s stdin. Whether a user's stored password already matches
is decided by reading /etc/sasldb2 (a Berkeley DB hash file) in memory, never through argv.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mailwizard import berkeleydb, boundedread, exposure, facts, postfix
from mailwizard.pending import PendingEdits, Words
from mailwizard.plan import RUN_TOKEN, Command, FileChange, Plan
from mailwizard.relay import PLAIN_RELAY, on_compatibility_level, plain_relay, with_sasl_relay
from mailwizard.secret import Secret
from mailwizard.steps.base import (
    AnswersError,
    Problem,
    Proposal,
    Status,
    Step,
    look_alike_check,
    proposal,
)
from mailwizard.system import System
from mailwizard.validate import Invalid, domain, password, sasl_user

SASLDB = "/etc/sasldb2"
CHROOT_SASLDB = "/var/spool/postfix/etc/sasldb2"
CHROOT_TMP = f"/var/spool/postfix/etc/.sasldb2.{RUN_TOKEN}.tmp"  # unique per apply
# A password change or a deletion builds the database anew here, then renames it over SASLDB:
# Berkeley DB updates in place and would keep the old password's bytes in the file.
SASLDB_TMP = f"/etc/.sasldb2.{RUN_TOKEN}.tmp"
SASLDB_FILES = (SASLDB, CHROOT_SASLDB)
REBUILD_TOUCHES = (SASLDB, CHROOT_SASLDB, SASLDB_TMP)
# A database this version cannot copy entry by entry (another format, or entries besides
# userPassword) is changed in place, then dumped here and loaded into SASLDB_TMP: a load
# writes only the live records. (It matches runtemps' pattern: a kill -9 leaves no dump.)
SASLDB_DUMP = f"/etc/.sasldb2.{RUN_TOKEN}.dump.tmp"
COMPACT_TOUCHES = (*REBUILD_TOUCHES, SASLDB_DUMP)
DB_DUMP, DB_LOAD = "db5.3_dump", "db5.3_load"
PLACEHOLDER = "mailwizard-placeholder@placeholder.invalid"
SMTPD_CONF = "/etc/postfix/sasl/smtpd.conf"
GROUP = "/etc/group"
GSHADOW = "/etc/gshadow"
# gpasswd saves the old group files as these before it rewrites them: a restore puts them back.
GROUP_BACKUPS = ("/etc/group-", "/etc/gshadow-")
MECHANISMS = ("PLAIN", "LOGIN")
CHROOT_MODE, CHROOT_OWNER, CHROOT_GROUP = 0o640, "root", "sasl"

SUBMISSION = "submission/inet"
SUBMISSION_ENTRY = "submission inet n - y - - smtpd"
SUBMISSION_PARAMS: dict[str, str] = {
    "syslog_name": "postfix/submission",
    "smtpd_tls_security_level": "encrypt",
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_tls_auth_only": "yes",
    "smtpd_client_restrictions": "permit_sasl_authenticated,reject",
}
# Postfix's brake on password guessing: AUTH commands per client address per
# anvil_rate_time_unit (60 s by default), counted by the anvil service; $mynetworks is exempt
# (smtpd_client_event_limit_exceptions). 0, Postfix's default, means no limit at all.
AUTH_RATE_LIMIT = "10"
ANVIL = "anvil/unix"
ANVIL_ENTRY = "anvil unix - - y - 1 anvil"

SECTION_KEYS = ("enabled", "users", "remove", "local_domain")
USER_KEYS = ("user", "password_env", "password_file")
MAX_PASSWORD_FILE = 4096
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# -- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaslUser:
    """One login. ``password=None`` keeps the stored password (the user must exist)."""

    user: str
    password: Secret | None = None
    password_env: str = ""  # where the password came from, for the answers file
    password_file: str = ""

    @property
    def source_field(self) -> str:
        return "password_file" if self.password_file else "password_env"


@dataclass(frozen=True)
class SaslAnswers:
    enabled: bool = True
    users: tuple[SaslUser, ...] = ()
    remove: tuple[str, ...] = ()
    local_domain: str = ""  # "" = keep the configured one, else the users' / primary domain


def read_password_env(name: str) -> Secret:
    """The password in environment variable ``name``; Invalid (without the value) if unset."""
    if not _ENV_NAME.fullmatch(name):
        raise Invalid("an environment variable name uses letters, digits and '_'")
    value = os.environ.get(name)
    if value is None:
        raise Invalid(f"environment variable {name} is not set")
    try:  # os.environ keeps bytes that are not UTF-8 as lone surrogates
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"environment variable {name} is not UTF-8 text") from None
    return Secret(value)


def read_password_file(path: str) -> Secret:
    """The first line of ``path`` (one trailing line break dropped): a regular file of at
    most MAX_PASSWORD_FILE bytes (never /dev/zero, a FIFO or a device)."""
    raw = boundedread.read_regular(path, MAX_PASSWORD_FILE)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"{path} is not UTF-8 text") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return Secret(text)


def _parse_user(i: int, item: Any, problems: list[Problem]) -> SaslUser | None:
    where = f"sasl.users[{i}]"
    if not isinstance(item, Mapping):
        problems.append(Problem(where, 'must be a table: [[sasl.users]] with user = "..."'))
        return None
    if "password" in item:
        problems.append(Problem(
            f"{where}.password",
            "never write a password in the answers file: give password_env = \"NAME\" "
            "(an environment variable) or password_file = \"/root/file\" (readable by root only)",
        ))
    for key in item:
        if key not in USER_KEYS and key != "password":
            problems.append(Problem(f"{where}.{key}",
                                    f"unknown key (allowed: {', '.join(USER_KEYS)})"))
    user = item.get("user")
    if not isinstance(user, str):
        problems.append(Problem(f"{where}.user", "is required: a login like alice@example.com"
                                if user is None else "must be a string in quotes"))
        return None
    env, file = item.get("password_env", ""), item.get("password_file", "")
    secret: Secret | None = None
    for key, value in (("password_env", env), ("password_file", file)):
        if not isinstance(value, str):
            problems.append(Problem(f"{where}.{key}", "must be a string in quotes"))
            return None
    if env and file:
        problems.append(Problem(where, "give password_env or password_file, not both"))
        return None
    try:
        if env:
            secret = read_password_env(env)
        elif file:
            secret = read_password_file(file)
    except Invalid as exc:
        problems.append(Problem(f"{where}.{'password_env' if env else 'password_file'}", str(exc)))
        return None
    return SaslUser(user, secret, env, file)


def parse_section(section: Mapping[str, Any]) -> SaslAnswers:
    """``[sasl]`` with ``[[sasl.users]]``; the secrets are read here, never kept as text."""
    problems: list[Problem] = []
    for key in section:
        if key not in SECTION_KEYS:
            problems.append(Problem(f"sasl.{key}",
                                    f"unknown key (allowed: {', '.join(SECTION_KEYS)})"))
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(Problem("sasl.enabled", "must be true or false"))
    local = section.get("local_domain", "")
    if not isinstance(local, str):
        problems.append(Problem("sasl.local_domain", "must be a string in quotes"))
    remove = section.get("remove", [])
    if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
        problems.append(Problem("sasl.remove", 'must be a list of strings, like ["a@example.com"]'))
        remove = []
    raw_users = section.get("users", [])
    users: list[SaslUser] = []
    if not isinstance(raw_users, list):
        problems.append(Problem("sasl.users", 'must be tables: [[sasl.users]] with user = "..."'))
        raw_users = []
    for i, item in enumerate(raw_users):
        parsed = _parse_user(i, item, problems)
        if parsed is not None:
            users.append(parsed)
    if problems:
        raise AnswersError(problems)
    assert isinstance(enabled, bool) and isinstance(local, str)
    return SaslAnswers(enabled, tuple(users), tuple(remove), local)


# -- reading sasldb2 -----------------------------------------------------------------------



def stored_passwords(system: System) -> dict[str, Secret] | None:
    """``user@realm`` -> stored userPassword, read in memory; None if sasldb2 is unreadable.

    An empty dict when /etc/sasldb2 does not exist. Nothing here raises with file content:
    every failure becomes None.
    """
    read = _read_passwords(system)
    return None if read is None else read[0]


def _read_passwords(system: System) -> tuple[dict[str, Secret], bool] | None:
    """The stored passwords and whether they are all the database holds (no other entry)."""
    data = system.read_bytes(SASLDB)
    if data is None:
        return {}, True
    try:
        items = berkeleydb.hash_items(data)
        if items is None:
            return None
        out: dict[str, Secret] = {}
        for key, value in items.items():
            parts = key.split(b"\0")
            if len(parts) == 3 and parts[2] == b"userPassword":
                name = f"{parts[0].decode()}@{parts[1].decode()}"
                out[name] = Secret(value.decode("utf-8", "surrogateescape"))
        return out, len(out) == len(items)
    except Exception:  # never let file content reach a traceback
        return None


def list_users(system: System) -> list[str]:
    """The logins in /etc/sasldb2 (``sasldblistusers2``), sorted."""
    data = system.read_bytes(SASLDB)
    if not data:
        return []
    import hashlib

    key = "sasldblistusers2:" + hashlib.sha256(data).hexdigest()
    cached = system.cache.get(key)
    if isinstance(cached, list):
        return list(cached)
    result = system.query(["sasldblistusers2", "-f", str(system.path(SASLDB))])
    users = sorted({line.split(":", 1)[0].strip() for line in result.stdout.splitlines()
                    if line.rstrip().endswith(": userPassword")})
    system.cache[key] = users
    return users


def chroot_state(system: System) -> str:
    """'' when the chroot copy matches /etc/sasldb2 and is root:sasl 0640, else what is wrong."""
    source = system.read_bytes(SASLDB)
    copy = system.read_bytes(CHROOT_SASLDB)
    if source is None:
        return ""
    if copy is None:
        return "missing"
    if copy != source:
        return "stale"
    info = system.info(CHROOT_SASLDB)
    if info is not None and (info.mode, info.owner, info.group) != (
            CHROOT_MODE, CHROOT_OWNER, CHROOT_GROUP):
        return f"{info.owner}:{info.group} {info.mode:04o}, not root:sasl 0640"
    return ""


def postfix_in_sasl_group(system: System) -> bool | None:
    """Whether /etc/group lists postfix in group sasl; None when there is no group sasl."""
    text = system.read_text(GROUP)
    if text is None:
        return False
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == "sasl":
            return "postfix" in fields[3].split(",")
    return None


def tls_pending(system: System) -> bool:
    """STARTTLS will be offered: TLS works now, or an earlier step of this plan set a
    certificate that its commands create (``make-ssl-cert``)."""
    if facts.tls_configured(system):
        return True
    return postfix.MAIN_CF in system.overlay and all(facts.tls_files(system))


def render_smtpd_conf() -> bytes:
    import importlib.resources

    import jinja2

    loader = jinja2.FileSystemLoader(str(importlib.resources.files("mailwizard.templates")))
    env = jinja2.Environment(loader=loader, keep_trailing_newline=True, autoescape=False)
    return env.get_template("smtpd.conf.j2").render(mechanisms=MECHANISMS).encode()


# -- plans ---------------------------------------------------------------------------------


def _split(login: str) -> tuple[str, str]:
    local, _, realm = login.rpartition("@")
    return local, realm


def set_password_command(system: System, login: str, secret: Secret, *, new: bool) -> Command:
    local, realm = _split(login)
    return Command(
        ("saslpasswd2", "-p", "-c", "-f", str(system.path(SASLDB)), "-u", realm, local),
        f"add the login {login}" if new else f"set a new password for {login}",
        stdin=secret, touches=SASLDB_FILES, secret_files=True,
    )


def delete_command(system: System, login: str) -> Command:
    local, realm = _split(login)
    return Command(
        ("saslpasswd2", "-d", "-f", str(system.path(SASLDB)), "-u", realm, local),
        f"delete the login {login}", touches=SASLDB_FILES, secret_files=True,
    )


def rebuild_commands(system: System, logins: Mapping[str, tuple[Secret, str]],
                     left_out: Sequence[str]) -> tuple[Command, ...]:
    """Build /etc/sasldb2 anew with exactly ``logins`` (login -> password, why) in a root-only
    temp file next to it, give it the old file's owner, group and mode, rename it over.

    Berkeley DB changes a password or deletes a login in place, and the old value's bytes stay
    in the file; a database that was only ever added to holds no old or deleted secret.
    """
    info = system.info(SASLDB)
    assert info is not None
    db, tmp = str(system.path(SASLDB)), str(system.path(SASLDB_TMP))
    touches = REBUILD_TOUCHES
    commands = [Command(
        ("install", "-m", "600", "/dev/null", tmp),
        "a new, empty user database next to /etc/sasldb2, root only: no old or deleted "
        "password is carried over", touches=touches, secret_files=True)]
    # (saslpasswd2 then says "BDB0004 fop_read_meta: ... unexpected file type or format" once:
    # Berkeley DB makes its database in the empty file, which keeps the mode 0600.)
    for login in sorted(logins):
        local, realm = _split(login)
        secret, why = logins[login]
        commands.append(Command(("saslpasswd2", "-p", "-c", "-f", tmp, "-u", realm, local), why,
                                stdin=secret, touches=touches, secret_files=True))
    if not logins:  # saslpasswd2 makes no empty database: add a placeholder and delete it
        local, realm = _split(PLACEHOLDER)
        junk = Secret(secrets.token_urlsafe(24))  # what stays of it is random, used nowhere
        commands += [
            Command(("saslpasswd2", "-p", "-c", "-f", tmp, "-u", realm, local),
                    "a placeholder login with a random password, so that the new database "
                    "is a database with no login", stdin=junk, touches=touches,
                    secret_files=True),
            Command(("saslpasswd2", "-d", "-f", tmp, "-u", realm, local),
                    "delete the placeholder: no login is left", touches=touches,
                    secret_files=True)]
    gone = "".join(f"; without {login}" for login in left_out)
    commands += [
        Command(("chown", f"{info.owner}:{info.group}", tmp),
                f"the new database gets the owner of /etc/sasldb2 ({info.owner}:{info.group})",
                touches=touches, secret_files=True),
        Command(("chmod", f"{info.mode:o}", tmp),
                f"the new database gets the mode of /etc/sasldb2 ({info.mode:04o})",
                touches=touches, secret_files=True),
        Command(("mv", "-f", tmp, db), f"replace /etc/sasldb2 in one step{gone}",
                touches=touches, secret_files=True),
    ]
    return tuple(commands)


def compact_commands(system: System, why: str) -> tuple[Command, ...]:
    """After an in-place change or deletion, copy /etc/sasldb2's live records into a new
    database next to it (``db5.3_dump`` into a root-only dump file there, ``db5.3_load``
    into a root-only temp database), give that the old owner, group and mode, rename it over.

    The dump holds the passwords in clear: it is made 0600 before anything is written to it,
    stays in /etc and is removed before the rename; no password is ever in an argv.
    """
    info = system.info(SASLDB)
    assert info is not None
    db, tmp, dump = (str(system.path(p)) for p in (SASLDB, SASLDB_TMP, SASLDB_DUMP))
    touches = COMPACT_TOUCHES

    def run(argv: tuple[str, ...], text: str) -> Command:
        return Command(argv, text, touches=touches, secret_files=True)

    # (db5.3_load then says "BDB0004 fop_read_meta: ... unexpected file type or format" once:
    # it makes its database in the empty file, which keeps the mode 0600.)
    return (
        run(("install", "-m", "600", "/dev/null", dump),
            f"an empty dump file next to /etc/sasldb2, root only: {why} must stay nowhere "
            "in the file"),
        run((DB_DUMP, "-f", dump, db),
            "dump the user database's live records (Berkeley DB keeps a changed or deleted "
            "password's old bytes in the file)"),
        run(("install", "-m", "600", "/dev/null", tmp),
            "a new, empty user database next to /etc/sasldb2, root only"),
        run((DB_LOAD, "-f", dump, tmp), "load only the live records into the new database"),
        run(("rm", "-f", dump), "remove the dump"),
        run(("chown", f"{info.owner}:{info.group}", tmp),
            f"the new database gets the owner of /etc/sasldb2 ({info.owner}:{info.group})"),
        run(("chmod", f"{info.mode:o}", tmp),
            f"the new database gets the mode of /etc/sasldb2 ({info.mode:04o})"),
        run(("mv", "-f", tmp, db), "replace /etc/sasldb2 in one step"),
    )


def copy_commands(system: System) -> tuple[Command, ...]:
    """Refresh the chroot copy atomically: install to a temp name there, then rename."""
    src, tmp, dst = (str(system.path(p)) for p in (SASLDB, CHROOT_TMP, CHROOT_SASLDB))
    touches = (SASLDB, CHROOT_SASLDB, CHROOT_TMP)
    return (
        Command(("install", "-m", "640", "-o", CHROOT_OWNER, "-g", CHROOT_GROUP, src, tmp),
                "copy the user database next to Postfix's chroot (root:sasl 0640)",
                touches=touches, secret_files=True),
        Command(("mv", "-f", tmp, dst),
                "replace the chroot copy in one step (smtpd reads it after chroot)",
                touches=touches, secret_files=True),
    )


def copy_checks(system: System) -> tuple[Command, ...]:
    dst = str(system.path(CHROOT_SASLDB))
    return (
        Command(("sasldblistusers2", "-f", dst), "the chroot copy opens and lists the logins"),
        Command(("cmp", "-s", str(system.path(SASLDB)), dst),
                "the chroot copy is the current database"),
        Command(("runuser", "-u", "postfix", "--", "test", "-r", dst),
                "Postfix (through group sasl) can read the chroot copy"),
    )


def sasldb_plan(
    system: System,
    set_users: Sequence[tuple[str, Secret]] = (),
    remove: Sequence[str] = (),
) -> Plan:
    """Add or re-set these logins and delete those, then refresh the chroot copy.

    Logins that already have this very password and logins that do not exist for deletion are
    skipped, so the plan is empty when sasldb2 already matches.
    """
    existing = set(list_users(system))
    read = _read_passwords(system)
    stored = None if read is None else read[0]
    commands: list[Command] = []
    wanted: dict[str, Secret] = {}
    for login, secret in set_users:
        if login in existing and (stored is None or stored.get(login) == secret):
            continue  # unreadable database: validate() warned; same password: nothing to do
        wanted[login] = secret
    removed = [login for login in dict.fromkeys(remove) if login in existing]
    changed = [login for login in wanted if login in existing]
    # Built anew when a password changes or a login goes, from a database we can read whole
    # (only userPassword entries, the same logins as sasldblistusers2 lists).
    if (changed or removed) and read is not None and read[1] \
            and set(read[0]) == existing and system.info(SASLDB) is not None:
        logins: dict[str, tuple[Secret, str]] = {
            login: (secret, f"copy the login {login} into the new database")
            for login, secret in read[0].items() if login not in removed}
        for login, secret in wanted.items():
            logins[login] = (secret, f"set a new password for {login}" if login in existing
                             else f"add the login {login}")
        commands.extend(rebuild_commands(system, logins, removed))
    else:  # only additions (nothing old to leave behind), or a database we cannot copy
        for login, secret in wanted.items():
            commands.append(set_password_command(system, login, secret,
                                                 new=login not in existing))
        for login in removed:
            commands.append(delete_command(system, login))
        # The in-place change kept the old bytes: compact, when Berkeley DB's tools are here.
        if (changed or removed) and system.info(SASLDB) is not None \
                and system.which(DB_DUMP) and system.which(DB_LOAD):
            commands.extend(compact_commands(system, " and ".join(
                [f"the old password of {login}" for login in changed]
                + [f"the deleted login {login}" for login in removed])))
    will_exist = system.exists(SASLDB) or bool(commands)
    if will_exist and (commands or chroot_state(system)):
        commands.extend(copy_commands(system))
    if not commands:
        return Plan(steps=("sasl",))
    return Plan(commands=tuple(commands), checks=copy_checks(system), steps=("sasl",))


def _submission_params(entry: str) -> dict[str, str]:
    """The ``-o name=value`` options of a master.cf entry line (as ``postconf -M`` prints it)."""
    fields = entry.split()
    out: dict[str, str] = {}
    for i, item in enumerate(fields):
        opt = fields[i + 1] if item == "-o" and i + 1 < len(fields) else (
            item[2:] if item.startswith("-o") and len(item) > 2 else "")
        name, sep, value = opt.partition("=")
        if sep:
            out[name] = value
    return out


def effective_local_domain(a: SaslAnswers, system: System) -> str:
    """The realm for bare logins: the answer, the configured one, the users' domain, or the
    primary mail domain ("" when none of them is a real domain)."""
    candidates = [a.local_domain, postfix.get(system, "smtpd_sasl_local_domain")]
    candidates += [_split(u.user)[1] for u in a.users]
    candidates.append(facts.primary_domain(system))
    for value in candidates:
        if value and "$" not in value:
            try:
                return domain(value)
            except Invalid:
                continue
    return ""


def config_staged(a: SaslAnswers, system: System) -> postfix.Staged:
    """main.cf and master.cf for AUTH after STARTTLS on 25 and the submission service."""
    now = postfix.params(system)
    services = postfix.services(system)
    want: dict[str, str] = {}
    plain_why = ""  # main.cf's reason, when an old relay expression becomes the plain list
    service_params: dict[str, str] = {}
    new_services: list[str] = []
    if a.enabled:
        want = {"smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "yes"}
        local = effective_local_domain(a, system)
        if local:
            want["smtpd_sasl_local_domain"] = local
        if now.get("smtpd_client_auth_rate_limit", "0") in ("", "0"):  # keep the admin's own
            want["smtpd_client_auth_rate_limit"] = AUTH_RATE_LIMIT
        if ANVIL not in services:
            new_services.append(f"{ANVIL}={ANVIL_ENTRY}")
        written = postfix.explicit(system).get("smtpd_relay_restrictions")
        if written is None:
            relay = PLAIN_RELAY
        elif on_compatibility_level(written):
            relay = plain_relay(system)
            plain_why = "smtpd_relay_restrictions as the plain list its expression means"
        else:
            relay = with_sasl_relay(written)
        if relay != written:
            want["smtpd_relay_restrictions"] = relay
        if SUBMISSION not in services:
            new_services.append(f"{SUBMISSION}={SUBMISSION_ENTRY}")
            service_params = dict(SUBMISSION_PARAMS)
        else:
            have = _submission_params(services[SUBMISSION])
            service_params = {k: v for k, v in SUBMISSION_PARAMS.items() if have.get(k) != v}
    else:
        want = {"smtpd_sasl_auth_enable": "no"}
        if SUBMISSION in services and _submission_params(services[SUBMISSION]).get(
                "smtpd_sasl_auth_enable") not in (None, "no"):
            service_params = {"smtpd_sasl_auth_enable": "no"}
    edits = {k: v for k, v in want.items() if now.get(k, "") != v}
    if not (edits or new_services or service_params):
        return postfix.Staged((), ())
    staged = postfix.stage(
        system, set_main=edits, set_services=new_services,
        set_service_params=[f"{SUBMISSION}/{k}={v}" for k, v in service_params.items()],
        why="SASL logins: AUTH after STARTTLS, submission on port 587, a brake on guessing",
    )
    if not plain_why:
        return staged
    return postfix.Staged(tuple(replace(c, why=f"{c.why}; {plain_why}")
                                if c.path == postfix.MAIN_CF else c for c in staged.changes),
                          staged.warnings)


# -- the step ------------------------------------------------------------------------------


def _normalised_users(a: SaslAnswers) -> list[tuple[int, str, SaslUser]]:
    out = []
    for i, u in enumerate(a.users):
        try:
            out.append((i, sasl_user(u.user), u))
        except Invalid:
            continue
    return out


def _normalised_remove(a: SaslAnswers) -> list[str]:
    out = []
    for login in a.remove:
        try:
            out.append(sasl_user(login))
        except Invalid:
            continue
    return out


class SaslStep(Step[SaslAnswers]):
    name = "sasl"
    title = "SASL users"
    answers = SaslAnswers
    blurb = (
        "Logins for mail programs: a user name and password let phones and laptops send "
        "mail through this server from anywhere, over an encrypted connection."
    )
    help = """\
# SASL users

**What it does.** Keeps a list of logins in Cyrus SASL's database (`/etc/sasldb2`, written by
`saslpasswd2`), lets Postfix check them (`/etc/postfix/sasl/smtpd.conf`, Postfix in group
`sasl`), turns on `smtpd_sasl_auth_enable` with `smtpd_tls_auth_only = yes` (AUTH only after
STARTTLS), and opens the *submission* port 587 that mail programs use.

**Against password guessing.** At most 10 AUTH attempts a minute from one client address
(`smtpd_client_auth_rate_limit = 10`, counted by Postfix's `anvil` service; your trusted
networks are exempt); a value you set yourself is kept. Passwords are judged by zxcvbn: too
short, too common, or built from the login or its domain is refused.

**Why it matters.** Without a login, only trusted networks may send mail through the server;
with one, your users can send from anywhere, and nobody else can.

**What the guide says.** `saslpasswd2 -c -u example.com alice`, then copy `/etc/sasldb2` to
`/var/spool/postfix/etc/sasldb2`: Postfix's smtpd runs in a chroot and reads the copy. The
wizard refreshes the copy after every change (atomically, root:sasl 0640).

**Common mistakes.**
- Adding a user and forgetting the copy: the new login is refused (535) until it is copied.
- No TLS certificate: with `smtpd_tls_auth_only = yes` AUTH is never offered (do the TLS step).
- Logging in as `alice` instead of `alice@example.com`: works only for the domain in
  `smtpd_sasl_local_domain`.
- Passwords in the answers file: give `password_env` or `password_file` instead.
"""

    def parse(self, section: Mapping[str, Any]) -> SaslAnswers:
        return parse_section(section)

    def to_section(self, a: SaslAnswers) -> dict[str, Any]:
        users = []
        for u in a.users:
            entry: dict[str, Any] = {"user": u.user}
            if u.password_env:
                entry["password_env"] = u.password_env
            elif u.password_file:
                entry["password_file"] = u.password_file
            users.append(entry)
        out: dict[str, Any] = {"enabled": a.enabled, "users": users, "remove": list(a.remove)}
        if a.local_domain:
            out["local_domain"] = a.local_domain
        return out

    def current(self, system: System) -> SaslAnswers:
        return SaslAnswers(
            enabled=postfix.get(system, "smtpd_sasl_auth_enable") == "yes",
            users=tuple(SaslUser(login) for login in list_users(system)),
            local_domain=postfix.get(system, "smtpd_sasl_local_domain"),
        )

    def propose(self, a: SaslAnswers, system: System) -> Proposal:
        """Problems and plan; main.cf/master.cf are staged once, whether AUTH goes on or off."""
        problems = self._problems(a, system)
        try:
            staged = config_staged(a, system)
        except postfix.StagingError as exc:
            if not a.enabled:
                raise
            problems.append(Problem("sasl", f"postconf refused the change: {exc}"))
            return Proposal(tuple(problems))
        if staged.warnings and not a.enabled:
            raise postfix.StagingError("; ".join(staged.warnings))
        problems.extend(Problem("sasl", f"postconf: {w}") for w in staged.warnings)
        return proposal(problems, lambda: self._build(a, system, staged))

    def _problems(self, a: SaslAnswers, system: System) -> list[Problem]:
        problems: list[Problem] = []
        if a.local_domain:
            try:
                domain(a.local_domain)
            except Invalid as exc:
                problems.append(Problem("sasl.local_domain", str(exc)))
            else:
                look_alike_check(problems, "sasl.local_domain", a.local_domain)
        existing = set(list_users(system))
        stored: dict[str, Secret] | None = {}
        if any(u.password is not None for u in a.users):
            stored = stored_passwords(system)
        seen: dict[str, int] = {}
        for i, u in enumerate(a.users):
            where = f"sasl.users[{i}]"
            try:
                login = sasl_user(u.user)
            except Invalid as exc:
                problems.append(Problem(f"{where}.user", str(exc)))
                continue
            look_alike_check(problems, f"{where}.user", u.user)
            if login in seen:
                problems.append(Problem(f"{where}.user",
                                        f"{login} is already listed as sasl.users[{seen[login]}]"))
            seen.setdefault(login, i)
            if u.password is None:
                if login not in existing:
                    problems.append(Problem(where, f"{login} does not exist yet: give "
                                                   "password_env or password_file"))
                continue
            try:
                password(u.password.reveal(), user=login)
            except Invalid as exc:
                problems.append(Problem(f"{where}.{u.source_field}", str(exc)))
            if u.password_file and (found := exposure.of_path(u.password_file)):
                problems.append(Problem(
                    f"{where}.password_file",
                    f"{u.password_file} {'; '.join(found)}: {exposure.advice()}", "warning"))
            if login in existing and stored is None:
                problems.append(Problem(
                    where, f"cannot compare {login}'s stored password ({SASLDB} is not a "
                    "Berkeley DB hash file this version reads): the stored password is kept; "
                    "change it on the SASL screen", "warning"))
        for i, login in enumerate(a.remove):
            try:
                name = sasl_user(login)
            except Invalid as exc:
                problems.append(Problem(f"sasl.remove[{i}]", str(exc)))
                continue
            if name in seen:
                problems.append(Problem(f"sasl.remove[{i}]",
                                        f"{name} is also in sasl.users: keep it in one list"))
            elif name not in existing:
                problems.append(Problem(f"sasl.remove[{i}]", f"no login {name}: nothing to delete",
                                        "warning"))
        if (seen or a.remove) and system.which("saslpasswd2") is None:
            problems.append(Problem("sasl", "saslpasswd2 is missing: install sasl2-bin "
                                            "(apt-get install sasl2-bin libsasl2-modules)"))
        if postfix_in_sasl_group(system) is None:
            problems.append(Problem("sasl", "there is no group sasl: install sasl2-bin"))
        if a.enabled:
            problems.extend(self._config_problems(a, system))
        return problems

    def _config_problems(self, a: SaslAnswers, system: System) -> list[Problem]:
        problems: list[Problem] = []
        if not tls_pending(system):
            problems.append(Problem(
                "sasl.enabled",
                "no TLS certificate is configured (smtpd_tls_cert_file): STARTTLS is not offered "
                "and, with smtpd_tls_auth_only = yes, AUTH never is either. Do the TLS step "
                "(or run make-ssl-cert generate-default-snakeoil)",
                "warning",
            ))
        if not _sasl_modules_present(system):
            problems.append(Problem(
                "sasl", "no SASL mechanisms are installed (libsasl2-modules): smtpd would stop "
                        "with 'no SASL authentication mechanisms'; install them "
                        "(apt-get install libsasl2-modules) or turn AUTH off"))
        return problems

    def _build(self, a: SaslAnswers, system: System, staged: postfix.Staged) -> Plan:
        files: list[FileChange] = list(staged.changes)
        commands: list[Command] = []
        if a.enabled:
            before = system.read_bytes(SMTPD_CONF)
            after = render_smtpd_conf()
            if before != after:
                files.append(FileChange(SMTPD_CONF, before, after, 0o644, "root", "root",
                                        "how smtpd checks passwords: sasldb, PLAIN and LOGIN"))
            if not postfix_in_sasl_group(system):
                commands.append(Command(("gpasswd", "-a", "postfix", "sasl"),
                                        "let Postfix read the user database (group sasl)",
                                        touches=(GROUP, GSHADOW, *GROUP_BACKUPS)))
        users = [(login, u.password) for _, login, u in _normalised_users(a)
                 if u.password is not None]
        db = sasldb_plan(system, users, _normalised_remove(a))
        plan = Plan(
            files=tuple(files),
            commands=tuple(commands),
            reload=frozenset({"postfix"}) if files or commands else frozenset(),
            steps=(self.name,),
        )
        return plan.then(db)

    def status(self, system: System) -> Status:
        users = list_users(system)
        enabled = postfix.get(system, "smtpd_sasl_auth_enable") == "yes"
        on_587 = SUBMISSION in postfix.services(system)
        now = (
            f"logins: {', '.join(users) if users else '(none)'}",
            f"smtpd_sasl_auth_enable = {'yes' if enabled else 'no'}",
            f"submission (587): {'on' if on_587 else 'off'}",
        )
        if not users:
            return Status("todo", "no users", now)
        count = f"{len(users)} user{'s' if len(users) != 1 else ''}"
        wrong = chroot_state(system)
        if wrong in ("stale", "missing"):
            return Status("problem", "users but chroot copy stale", now)
        if wrong:
            return Status("problem", f"chroot copy is {wrong}", now)
        if not enabled:
            return Status("warn", f"{count}, AUTH off", now)
        if not facts.tls_configured(system):
            return Status("warn", f"{count}, no TLS: AUTH hidden", now)
        return Status("ok", count, now)


def _sasl_modules_present(system: System) -> bool:
    """libplain is installed (a root without /usr/lib, like a test sandbox, cannot tell)."""
    lib = system.path("/usr/lib")
    if not lib.is_dir():
        return True
    return any(lib.glob("*/sasl2/libplain.so*")) or any(lib.glob("sasl2/libplain.so*"))


# -- the list of logins as the screen edits it ------------------------------------------

WORDS = Words(
    exists="{key} exists already: change its password instead",
    deleted="{key} is marked for deletion: ctrl+d on it keeps it",
    empty="give a password",
)


def pending_logins(answers: SaslAnswers) -> PendingEdits[Secret | None]:
    """Today's logins as pending edits; an entry's value is its new password (None: none)."""
    return PendingEdits(((u.user, None) for u in answers.users), WORDS, check_key=sasl_user,
                        is_empty=lambda secret: False, ordered=True)


def logins_answers(pending: PendingEdits[Secret | None], *, enabled: bool) -> SaslAnswers:
    """The answers for the edited list: every kept login (with its new password, if any)
    and the deleted ones to remove."""
    users = tuple(SaslUser(key, entry.value) for key, entry in pending.result())
    return SaslAnswers(enabled=enabled, users=users, remove=tuple(pending.removed()))


# -- what the screen checks as the admin types ----------------------------------------


def password_problems(login: str, secret: Secret, again: Secret,
                      where: str = "sasl.password") -> list[Problem]:
    """Strength and the second entry; messages never contain the password."""
    problems: list[Problem] = []
    try:
        password(secret.reveal(), user=login)
    except Invalid as exc:
        problems.append(Problem(where, str(exc)))
    if secret != again:
        problems.append(Problem(f"{where}_again", "the two passwords differ"))
    return problems
