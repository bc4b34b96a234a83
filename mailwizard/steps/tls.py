"""STARTTLS: which certificate and key smtpd offers, checked before they go into main.cf.

Three sources: a certificate and key the admin already has, the Let's Encrypt pair for the
host name, or Debian's self-signed "snakeoil" pair (generated with ``make-ssl-cert`` when
missing: the postfix package configures TLS only when that pair existed at install time,
and without a certificate STARTTLS, and so AUTH, is never offered). Checks run ``openssl``
on the files by path; the key's text is never read, printed or logged here: only its
public half (``openssl pkey -pubout``) is compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from mailwizard import exposure, postfix, x509
from mailwizard.facts import tls_configured as tls_configured  # re-exported
from mailwizard.facts import tls_files
from mailwizard.plan import Command, Plan
from mailwizard.steps.base import Problem, Proposal, Status, Step, errors, field_check, proposal
from mailwizard.system import System
from mailwizard.validate import file_path
from mailwizard.x509 import X509Info, name_matches

SNAKEOIL_CERT = "/etc/ssl/certs/ssl-cert-snakeoil.pem"
SNAKEOIL_KEY = "/etc/ssl/private/ssl-cert-snakeoil.key"
LETSENCRYPT_DIR = "/etc/letsencrypt/live"
SOON = timedelta(days=14)
# Levels that mean "no TLS": the step turns these into "may"; stricter ones are kept.
TLS_OFF = ("", "none")


@dataclass(frozen=True)
class TlsAnswers:
    """Either ``snakeoil`` or both file names."""

    cert_file: str = ""
    key_file: str = ""
    snakeoil: bool = False


# -- judging a certificate and key (pure; ``mailwizard.x509`` reads them) ------------------


@dataclass(frozen=True)
class PairFacts:
    """Everything the checks need, read once (see :func:`inspect`)."""

    cert_exists: bool
    key_exists: bool
    cert: X509Info | None  # None: not a readable PEM certificate
    key_public: str | None  # None: not a readable, unencrypted private key
    key_mode: int | None = None
    cert_refused: str = ""  # why the file is not even handed to openssl (a device, a FIFO)
    key_refused: str = ""
    key_owner: str = "root"
    key_group: str = "root"


def judge(
    facts: PairFacts,
    hostname: str,
    now: datetime,
    cert_field: str = "tls.cert_file",
    key_field: str = "tls.key_file",
    cert_path: str = "the certificate",
    key_path: str = "the key",
) -> list[Problem]:
    """The problems of a certificate/key pair (pure: the facts come from :func:`inspect`)."""
    problems: list[Problem] = []
    if not facts.cert_exists:
        problems.append(Problem(cert_field, f"{cert_path} does not exist"))
    elif facts.cert_refused:
        problems.append(Problem(cert_field, f"{cert_path}: {facts.cert_refused}"))
    elif facts.cert is None:
        problems.append(Problem(cert_field, f"{cert_path} is not a PEM certificate"))
    if not facts.key_exists:
        problems.append(Problem(key_field, f"{key_path} does not exist"))
    elif facts.key_refused:
        problems.append(Problem(key_field, f"{key_path}: {facts.key_refused}"))
    elif facts.key_public is None:
        problems.append(Problem(
            key_field,
            f"{key_path} is not a readable private key (or it needs a passphrase, "
            "which Postfix cannot type)",
        ))
    elif facts.key_mode is not None and (found := exposure.findings(
            facts.key_mode, facts.key_owner, facts.key_group, group_may_read=True)):
        problems.append(Problem(
            key_field, f"{key_path} {'; '.join(found)}: {exposure.advice(True)}", "warning"))
    cert = facts.cert
    if cert is None:
        return problems
    if facts.key_public is not None and cert.public_key and cert.public_key != facts.key_public:
        problems.append(Problem(key_field, f"{key_path} does not belong to {cert_path}"))
    if cert.not_after is None:
        problems.append(Problem(cert_field, f"{cert_path}: cannot read its expiry date",
                                "warning"))
    elif cert.not_after <= now:
        problems.append(Problem(
            cert_field, f"{cert_path} expired on {cert.not_after:%Y-%m-%d}: renew it"))
    elif cert.not_after - now < SOON:
        problems.append(Problem(
            cert_field, f"{cert_path} expires on {cert.not_after:%Y-%m-%d}: renew it soon",
            "warning"))
    if hostname and not any(name_matches(n, hostname) for n in cert.names):
        shown = ", ".join(cert.names) or "no name"
        problems.append(Problem(
            cert_field,
            f"{cert_path} is for {shown}, not for {hostname}: clients that check names "
            "will refuse it",
            "warning",
        ))
    return problems


def is_exposure(problem: Problem) -> bool:
    """The warning that others can read, change or own the key (the key still works)."""
    return problem.level == "warning" and problem.message.endswith(exposure.advice(True))


# -- reading the machine ------------------------------------------------------------------


def inspect(system: System, cert: str, key: str) -> PairFacts:
    """Ask openssl about the files, by path (the key is never read into this process)."""
    cert_exists = system.exists(cert)
    key_exists = system.exists(key)
    cert_refused = x509.refused(system, cert) if cert_exists else ""
    key_refused = x509.refused(system, key) if key_exists else ""
    info = x509.read_certificate(system, cert) if cert_exists and not cert_refused else None
    key_public = None
    key_mode = None
    owner = group = "root"
    if key_exists and not key_refused:
        key_public = x509.public_key_of(system, key)
        stat = system.info(key)
        if stat is not None:
            key_mode, owner, group = stat.mode, stat.owner, stat.group
    return PairFacts(cert_exists, key_exists, info, key_public, key_mode, cert_refused,
                     key_refused, owner, group)


def check_pair(
    system: System,
    cert: str,
    key: str,
    *,
    cert_field: str = "tls.cert_file",
    key_field: str = "tls.key_file",
    now: datetime | None = None,
) -> list[Problem]:
    """Problems of ``cert``/``key`` on this system, judged against myhostname."""
    return judge(
        inspect(system, cert, key),
        postfix.get(system, "myhostname"),
        now or datetime.now(UTC),
        cert_field, key_field, cert, key,
    )


def letsencrypt_pair(system: System, host: str | None = None) -> tuple[str, str] | None:
    """Let's Encrypt's fullchain.pem/privkey.pem for ``host`` (default myhostname) if present."""
    host = host or postfix.get(system, "myhostname")
    if not host or "/" in host or host.startswith("."):
        return None
    cert = f"{LETSENCRYPT_DIR}/{host}/fullchain.pem"
    key = f"{LETSENCRYPT_DIR}/{host}/privkey.pem"
    return (cert, key) if system.exists(cert) and system.exists(key) else None


def letsencrypt_absence(system: System, host: str | None = None) -> str:
    """Why there is no Let's Encrypt pair for ``host`` (default myhostname), and what would
    make one ("" when there is one): the greyed choice on the form says this."""
    host = host or postfix.get(system, "myhostname")
    if letsencrypt_pair(system, host) is not None:
        return ""
    if not host or "/" in host or host.startswith(".") or "." not in host.strip("."):
        return (f"{host or 'the host name'} is not a full host name, and certbot certifies "
                "only public ones: set one in the Hostname step first")
    live = f"{LETSENCRYPT_DIR}/{host}"
    if system.exists(live):
        missing = " and ".join(n for n in ("fullchain.pem", "privkey.pem")
                               if not system.exists(f"{live}/{n}"))
        why = f"{live}/ has no {missing}"
    else:
        why = f"no certificate in {live}/"
        directory = system.path(LETSENCRYPT_DIR)
        others = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
        others = [name for name in others if name != "README"]
        if others:
            why += f" (certbot has one for {', '.join(others)})"
    get = f"certbot certonly --standalone -d {host}"
    if system.which("certbot") is None:
        return f"certbot is not installed, {why}: apt-get install certbot; {get}"
    return f"{why}: run {get} (port 80 open), then open this screen again"


def chosen_files(a: TlsAnswers) -> tuple[str, str]:
    return (SNAKEOIL_CERT, SNAKEOIL_KEY) if a.snakeoil else (a.cert_file.strip(),
                                                             a.key_file.strip())


@dataclass(frozen=True)
class TlsContext:
    """What the machine offers the TLS form: certbot's pair for this host, snakeoil."""

    letsencrypt: tuple[str, str] | None
    snakeoil: bool
    letsencrypt_why: str = ""  # when ``letsencrypt`` is None: why, and what would offer it


class TlsStep(Step[TlsAnswers]):
    name = "tls"
    title = "TLS"
    answers = TlsAnswers
    blurb = (
        "The certificate the server shows when a client asks for an encrypted connection "
        "(STARTTLS). Without one, passwords would travel in clear text."
    )
    help = """\
# TLS (STARTTLS)

**What it does.** Points `smtpd_tls_cert_file` and `smtpd_tls_key_file` at a certificate
and its key, and turns on opportunistic TLS both ways (`smtpd_tls_security_level = may`,
`smtp_tls_security_level = may`; stricter levels you set are kept).

**Which certificate.**
- *Let's Encrypt*: `/etc/letsencrypt/live/<host>/fullchain.pem` and `privkey.pem`, when
  certbot has made them for this host name. Mail clients trust it. When the choice is
  greyed, the line under it says why (certbot missing, no certificate for this host name,
  or a host name that is not a full one) and what to run.
- *Your own* certificate and key files.
- *Snakeoil*: Debian's self-signed pair (`make-ssl-cert generate-default-snakeoil`).
  Other mail servers accept it; mail clients warn about it.

**What is checked.** Both files are readable, the key belongs to the certificate, the
certificate has not expired and names this server (a warning if not). The key's content
is never shown.

**Common mistakes.**
- No certificate at all: Postfix's installer only configures TLS when the snakeoil pair
  already existed. Then STARTTLS is never offered, and with `smtpd_tls_auth_only = yes`
  the SASL login silently disappears.
- `cert.pem` instead of `fullchain.pem` from Let's Encrypt: clients miss the chain.
- A key protected by a passphrase: Postfix cannot use it.
"""

    def current(self, system: System) -> TlsAnswers:
        """What main.cf uses; when nothing is set, the suggestion: Let's Encrypt, else snakeoil."""
        cert, key = tls_files(system)
        if (cert, key) == (SNAKEOIL_CERT, SNAKEOIL_KEY):
            return TlsAnswers(snakeoil=True)
        if cert or key:
            return TlsAnswers(cert_file=cert, key_file=key)
        found = letsencrypt_pair(system)
        if found:
            return TlsAnswers(cert_file=found[0], key_file=found[1])
        return TlsAnswers(snakeoil=True)

    def to_section(self, a: TlsAnswers) -> dict[str, Any]:
        if a.snakeoil:
            return {"snakeoil": True}
        return {"cert_file": a.cert_file, "key_file": a.key_file}

    def _edits(self, a: TlsAnswers, system: System) -> tuple[dict[str, str], list[str]]:
        cert, key = chosen_files(a)
        now = postfix.params(system)
        wanted = {"smtpd_tls_cert_file": cert, "smtpd_tls_key_file": key}
        for level in ("smtpd_tls_security_level", "smtp_tls_security_level"):
            if now.get(level, "").strip() in TLS_OFF:
                wanted[level] = "may"
        edits = {k: v for k, v in wanted.items() if now.get(k, "").strip() != v}
        # smtpd_tls_chain_files (Postfix >= 3.4) wins over cert_file/key_file.
        remove = ["smtpd_tls_chain_files"] if now.get("smtpd_tls_chain_files", "").strip() else []
        return edits, remove

    def propose(self, a: TlsAnswers, system: System) -> Proposal:
        problems, staged = self._check(a, system)
        return proposal(problems, lambda: self._build(a, system, staged))

    def context(self, system: System) -> TlsContext:
        """The pairs the form offers: certbot's for this host, and whether snakeoil exists."""
        return TlsContext(letsencrypt_pair(system),
                          system.exists(SNAKEOIL_CERT) and system.exists(SNAKEOIL_KEY),
                          letsencrypt_absence(system))

    def _check(self, a: TlsAnswers, system: System
               ) -> tuple[list[Problem], postfix.Staged | None]:
        """The problems, and main.cf staged once (when they leave it to stage)."""
        problems: list[Problem] = []
        cert_given, key_given = a.cert_file.strip(), a.key_file.strip()
        if a.snakeoil:
            if cert_given or key_given:
                problems.append(Problem(
                    "tls.snakeoil",
                    "give either snakeoil = true or cert_file and key_file, not both"))
                return problems, None
            if system.exists(SNAKEOIL_CERT) and system.exists(SNAKEOIL_KEY):
                problems.extend(check_pair(system, SNAKEOIL_CERT, SNAKEOIL_KEY,
                                           cert_field="tls.snakeoil", key_field="tls.snakeoil"))
            elif system.which("make-ssl-cert") is None:
                problems.append(Problem(
                    "tls.snakeoil",
                    "the snakeoil pair is missing and make-ssl-cert is not installed "
                    "(apt-get install ssl-cert)"))
        else:
            if not cert_given and not key_given:
                problems.append(Problem(
                    "tls.cert_file",
                    "choose a certificate: cert_file and key_file, or snakeoil = true"))
                return problems, None
            for where, value, other in (("tls.cert_file", cert_given, "tls.key_file"),
                                        ("tls.key_file", key_given, "tls.cert_file")):
                if not value:
                    problems.append(Problem(where, f"is required together with {other}"))
                else:
                    field_check(problems, where, file_path, value)
            if problems:
                return problems, None
            problems.extend(check_pair(system, cert_given, key_given))
        if errors(problems):
            return problems, None
        edits, remove = self._edits(a, system)
        if remove:
            problems.append(Problem(
                "tls", "smtpd_tls_chain_files is set and would override these files: "
                "it is removed", "warning"))
        staged = None
        if edits or remove:
            staged = postfix.stage(system, set_main=edits, remove_main=remove,
                                   why="STARTTLS with this certificate")
            problems.extend(Problem("tls", f"postconf: {w}") for w in staged.warnings)
        return problems, staged

    def _build(self, a: TlsAnswers, system: System, staged: postfix.Staged | None) -> Plan:
        commands: list[Command] = []
        if a.snakeoil and not (system.exists(SNAKEOIL_CERT) and system.exists(SNAKEOIL_KEY)):
            commands.append(Command(
                ("make-ssl-cert", "generate-default-snakeoil"),
                "create Debian's self-signed certificate and key",
                touches=(SNAKEOIL_CERT, SNAKEOIL_KEY),
                links_in=(str(PurePosixPath(SNAKEOIL_CERT).parent),),  # its <hash>.0 link
            ))
        files: tuple[Any, ...] = staged.changes if staged is not None else ()
        changed = bool(files or commands)
        return Plan(
            files=files,
            commands=tuple(commands),
            reload=frozenset({"postfix"}) if changed else frozenset(),
            steps=(self.name,),
        )

    def status(self, system: System) -> Status:
        cert, key = tls_files(system)
        level = postfix.get(system, "smtpd_tls_security_level").strip()
        shown: tuple[str, ...] = (
            f"smtpd_tls_cert_file = {cert or '(unset)'}",
            f"smtpd_tls_key_file = {key or '(unset)'}",
            f"smtpd_tls_security_level = {level or '(unset)'}",
        )
        if not cert or not key:
            return Status("problem", "no certificate", (*shown, "STARTTLS is not offered"))
        if not tls_configured(system):
            return Status("problem", "certificate file missing", shown)
        facts = inspect(system, cert, key)
        found = judge(facts, postfix.get(system, "myhostname"), datetime.now(UTC),
                      cert_path=cert, key_path=key)
        shown = (*shown, *(str(p) for p in found))
        if errors(found):
            return Status("problem", _short(errors(found)[0]), shown)
        if level in TLS_OFF and postfix.get(system, "smtpd_use_tls").strip() != "yes":
            return Status("warn", "STARTTLS off", shown)
        if found:
            return Status("warn", _short(found[0]), shown)
        assert facts.cert is not None
        what = "snakeoil" if cert == SNAKEOIL_CERT else (facts.cert.names or ("certificate",))[0]
        until = f" until {facts.cert.not_after:%Y-%m-%d}" if facts.cert.not_after else ""
        return Status("ok", f"{what}{until}", shown)


def _short(problem: Problem) -> str:
    text = problem.message
    for marker in ("expired", "expires", "does not belong", "does not exist", "is for",
                   "not a PEM", "not a readable", "readable by", "changed by other",
                   "is owned by"):
        if marker in text:
            return {
                "expired": "certificate expired", "expires": "certificate expires soon",
                "does not belong": "key does not match", "does not exist": "file missing",
                "is for": "certificate names another host", "not a PEM": "not a certificate",
                "not a readable": "key unreadable", "readable by": "key readable by others",
                "changed by other": "key writable by others", "is owned by": "key not root's",
            }[marker]
    return text[:40]
