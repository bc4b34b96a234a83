"""What the hub lists before any step module is imported: each step"s name, title, blurb.

The hub"s first frame needs only these; the step classes (and what they import: plans,
validators, parsers, DNS and DKIM code) load in the status worker or when a step opens.
Each step class keeps the same ``title``/``blurb``; ``tests/unit/test_catalog.py`` checks
that they agree.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    name: str
    title: str
    blurb: str
    listed: bool = True
    available: bool = True


ENTRIES: tuple[Entry, ...] = (
    Entry("hostname", "Hostname",
          "The name this server calls itself and the name other servers see in its "
          "greeting. Use a full name under your domain, like mail.example.com."),
    Entry("domains", "Domains",
          "The domains this server accepts mail for, and the networks trusted to send mail "
          "through it without a password."),
    Entry("aliases", "Aliases",
          "Forward mail for local names (root, postmaster, support) to the addresses that "
          "are really read. One alias with several addresses is a simple mailing list."),
    Entry("tls", "TLS",
          "The certificate the server shows when a client asks for an encrypted connection "
          "(STARTTLS). Without one, passwords would travel in clear text."),
    Entry("sasl", "SASL users",
          "Logins for mail programs: a user name and password let phones and laptops send "
          "mail through this server from anywhere, over an encrypted connection."),
    Entry("spf", "SPF",
          "Which servers may send mail for your domain (a DNS record you publish), and "
          "whether this server checks the SPF of mail it receives."),
    Entry("dkim", "DKIM signing",
          "Sign the mail this server sends with a key whose public half you publish in DNS,"
          " so receivers can tell it really comes from your domain."),
    Entry("dns", "DNS records",
          "The records to publish at your DNS host (A, MX, SPF, DKIM, DMARC; PTR at your "
          "hosting provider), and a check that the world sees each of them."),
    Entry("test", "Test",
          "Prove the server works: telnet-style SMTP sessions that receive, send, log in, "
          "try to relay, and check the DKIM signature and SPF, each shown line by line."),
)
LISTED: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.listed)


def entry(name: str) -> Entry:
    for e in ENTRIES:
        if e.name == name:
            return e
    raise KeyError(name)
