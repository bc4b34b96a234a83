"""What the live tests need to know about this server, read once from the live system."""

from __future__ import annotations

import ipaddress
import mailbox
import pwd
from dataclasses import dataclass

from mailwizard import postfix
from mailwizard.facts import interface_addresses
from mailwizard.maillog import MailLog
from mailwizard.secret import Secret
from mailwizard.system import System

DEFAULT_FOREIGN = "mailwizard-relay-test@example.net"
#: An address from TEST-NET-2 (RFC 5737): outside every SPF record, for the SPF-fail half.
SPF_STRANGER = "198.51.100.7"


class LiveError(Exception):
    """The live tests cannot run at all (no address found, Postfix not installed)."""


@dataclass(frozen=True)
class LiveContext:
    system: System
    server: str  # this server's public address (port 25 is tested there)
    hostname: str  # myhostname: our EHLO name and the name in the banner
    domain: str  # the mail domain (the sender that passes our own SPF)
    postmaster: str  # a local mailbox every server must have
    to: str | None = None  # the admin's outside address (live.send)
    source: str | None = None  # an address outside mynetworks (live.relay)
    user: str | None = None  # a SASL user (live.auth)
    password: Secret | None = None
    nameserver: tuple[str, int] | None = None  # where live.dkim looks up the key
    dkim_domain: str = ""
    dkim_selector: str = ""
    spf_record: str = ""
    spf_incoming: bool = False
    mynetworks: tuple[str, ...] = ()
    port: int = 25  # where the MX listens (tests use other ports)
    submission_port: int = 587
    local: str = "127.0.0.1"  # how this machine reaches its own Postfix from mynetworks
    timeout: float = 45.0  # per session
    send_timeout: float = 75.0  # live.send waits for the remote's answer (connect: 30 s)
    log: MailLog | None = None

    @property
    def sender(self) -> str:
        """A sender at our own domain: passes our SPF when it comes from :attr:`server`."""
        return f"mailwizard-test@{self.domain}"

    @property
    def foreign(self) -> str:
        """A recipient at a domain that is not ours (the relay test's target)."""
        if self.to and not self.to.lower().endswith("@" + self.domain.lower()):
            return self.to
        return DEFAULT_FOREIGN

    @property
    def relay_source(self) -> str:
        return self.source or self.server

    def in_mynetworks(self, address: str) -> str | None:
        """The mynetworks entry that contains ``address`` (None: it is outside)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for net in self.mynetworks:
            try:
                if ip in ipaddress.ip_network(net.strip("[]").replace("]/", "/"), strict=False):
                    return net
            except ValueError:
                continue
        return None


def build(
    system: System,
    *,
    server: str | None = None,
    to: str | None = None,
    source: str | None = None,
    user: str | None = None,
    password: Secret | None = None,
    nameserver: tuple[str, int] | None = None,
) -> LiveContext:
    """Read the configuration the sessions judge; raise LiveError when they cannot run."""
    from mailwizard.steps.dkim import signing_identity
    from mailwizard.steps.domains import primary_domain
    from mailwizard.steps.spf import SpfStep

    if not postfix.installed(system):
        raise LiveError("Postfix is not installed")
    if server is None:
        found = interface_addresses(system, 4)
        if not found:
            raise LiveError("this server has no global IPv4 address to test (give --server)")
        server = found[0]
    domain = primary_domain(system)
    dkim_domain, dkim_selector = signing_identity(system)  # in a rotation: the signing one
    spf = SpfStep().current(system)
    return LiveContext(
        system=system, server=server, hostname=postfix.get(system, "myhostname"),
        domain=domain, postmaster=f"postmaster@{domain}", to=to, source=source, user=user,
        password=password, nameserver=nameserver, dkim_domain=dkim_domain,
        dkim_selector=dkim_selector, spf_record=spf.record, spf_incoming=spf.check_incoming,
        mynetworks=tuple(postfix.split_list(postfix.get(system, "mynetworks"))),
        log=MailLog(system),
    )


def find_message(system: System, user: str, token: str) -> bytes | None:
    """The delivered message containing ``token`` in ``user``'s mbox or Maildir, if any."""
    home_mailbox = postfix.get(system, "home_mailbox")
    if home_mailbox:
        try:
            home = pwd.getpwnam(user).pw_dir
        except KeyError:
            return None
        where = f"{home.rstrip('/')}/{home_mailbox}"
    else:
        spool = postfix.get(system, "mail_spool_directory") or "/var/mail"
        where = f"{spool.rstrip('/')}/{user}"
    path = system.path(where.rstrip("/"))
    box: mailbox.Mailbox[mailbox.Message]
    try:
        if where.endswith("/"):
            if not path.is_dir():
                return None
            box = mailbox.Maildir(str(path), create=False)
        else:
            if not path.is_file():
                return None
            box = mailbox.mbox(str(path), create=False)
        for key in reversed(list(box.keys())):
            raw = box.get_bytes(key)
            if token.encode() in raw:
                return raw
    except (OSError, mailbox.Error):
        return None
    return None
