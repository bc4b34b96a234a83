"""Issue 8 (leftovers): no old password survives in /etc/sasldb2 or its chroot copy.

Berkeley DB updates in place: on the old code a change to a shorter password, or a deleted
login, left the old password's bytes in the file (``strings /etc/sasldb2`` showed them). Now
a change or a deletion builds a new database from scratch next to the old one (root-only,
then the old file's owner, group and mode) and renames it over; real saslpasswd2, real
Postfix AUTH in a namespace. A failed rebuild still restores both files byte for byte, and a
temp database left by a killed apply is removed by the next apply.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Iterator

import pytest

from tests.integration.nsenv import Namespace
from tests.integration.wizard import run_wizard, tls_namespace

pytestmark = pytest.mark.integration

# No two share a run of WINDOW characters, so any such run found is a residue of that one.
LONG_A = "Qx7-Longish-Vintage-Harbour-Mango-Umbra"
SHORT_A = "Sh0rt-Kiwi-9z"
PW_B = "Bz4-Tundra-Oblique-Saxophone-Drift"
PW_C = "Cw9-Marmot-Lantern-Quibble"
WINDOW = 6
OLD_SECRETS = (LONG_A, PW_B)
DBS = ("/etc/sasldb2", "/var/spool/postfix/etc/sasldb2")


def user(login: str, env: str) -> str:
    return f'[[sasl.users]]\nuser = "{login}"\npassword_env = "{env}"\n\n'


ENVS = f"PW_A={shlex.quote(LONG_A)} PW_B={shlex.quote(PW_B)} PW_C={shlex.quote(PW_C)}"
FIRST = user("alice@example.com", "PW_A") + user("bob@example.com", "PW_B") + user(
    "carol@example.com", "PW_C")
SHORTER = user("alice@example.com", "PW_SHORT")
DELETE = '[sasl]\nremove = ["bob@example.com"]\n'


@pytest.fixture(scope="module")
def ns() -> Iterator[Namespace]:
    with tls_namespace() as namespace:
        yield namespace


def apply(ns: Namespace, text: str, name: str) -> str:
    path = ns.tmp / name
    path.write_text(text)
    env = f"{ENVS} PW_SHORT={shlex.quote(SHORT_A)}"
    result = run_wizard(ns, "apply", str(path), env=env)
    assert result.returncode == 0, result.stdout
    assert "Applied." in result.stdout, result.stdout
    for secret in (LONG_A, SHORT_A, PW_B, PW_C):
        assert secret not in result.stdout
    return result.stdout


def auth(ns: Namespace, login: str, password: str) -> int:
    out = ns.run(f"swaks --server 127.0.0.1 --tls --quit-after AUTH --auth PLAIN "
                 f"--auth-user {login} --auth-password {shlex.quote(password)} "
                 "2>&1 || true").stdout
    codes = re.findall(r"^<~\*?\s+(235|535) ", out, re.M)
    assert codes, out
    return int(codes[-1])


def holding(ns: Namespace, *secrets: str) -> list[str]:
    """Which of the databases hold any WINDOW bytes in a row of which secret (an in-place
    update overwrites only part of a longer old value: its head stays)."""
    found = []
    for db in DBS:
        data = base64.b64decode(ns.run(f"base64 -w0 {db}").stdout)
        found += [f"{db}: {s}" for s in secrets
                  if any(s[i:i + WINDOW].encode() in data for i in range(len(s) - WINDOW + 1))]
    return found


def meta(ns: Namespace, path: str) -> str:
    return ns.run(f"stat -c '%U:%G %a' {path}").stdout.strip()


def temps(ns: Namespace) -> str:
    return ns.run("ls -A /etc /var/spool/postfix/etc | grep '^\\.sasldb2' || true").stdout.strip()


def test_no_old_password_survives_a_change_or_a_deletion(ns: Namespace) -> None:
    apply(ns, FIRST, "first.toml")
    # The admin's own owner and mode on the live database are kept through the rebuild.
    ns.run("chown root:sasl /etc/sasldb2 && chmod 660 /etc/sasldb2")
    assert holding(ns, *OLD_SECRETS) == [f"{db}: {s}" for db in DBS for s in OLD_SECRETS]

    out = apply(ns, SHORTER, "shorter.toml")
    assert holding(ns, LONG_A) == [], "the old, longer password is still in the file"
    assert "saslpasswd2 -p -c -f /etc/sasldb2" not in out, out  # never changed in place
    assert meta(ns, "/etc/sasldb2") == "root:sasl 660"
    assert meta(ns, DBS[1]) == "root:sasl 640"
    assert ns.run("cmp /etc/sasldb2 /var/spool/postfix/etc/sasldb2", check=False).returncode == 0
    assert temps(ns) == ""
    assert auth(ns, "alice@example.com", SHORT_A) == 235
    assert auth(ns, "alice@example.com", LONG_A) == 535
    assert auth(ns, "bob@example.com", PW_B) == 235  # the others were copied over
    assert auth(ns, "carol@example.com", PW_C) == 235

    before = ns.run("sha256sum /etc/sasldb2 /var/spool/postfix/etc/sasldb2").stdout
    # A killed apply left its temp databases (holding passwords): the next apply removes them.
    ns.run("cp /etc/sasldb2 /etc/.sasldb2.4242-deadbeef.tmp && "
           "cp /etc/sasldb2 /var/spool/postfix/etc/.sasldb2.4242-deadbeef.tmp")
    # The deletion fails at its last check (a cmp that says "differ"): restored byte for byte.
    shim = ns.tmp / "shim"
    shim.mkdir()
    (shim / "cmp").write_text("#!/bin/sh\nexit 1\n")
    (shim / "cmp").chmod(0o755)
    path = ns.tmp / "delete.toml"
    path.write_text(DELETE)
    failed = run_wizard(ns, "apply", str(path), env=f"PATH={shim}:$PATH")
    assert failed.returncode == 2, failed.stdout
    assert "every file was restored" in failed.stdout, failed.stdout
    assert "/etc/.sasldb2.4242-deadbeef.tmp" in failed.stdout  # said what it removed
    assert ns.run("sha256sum /etc/sasldb2 /var/spool/postfix/etc/sasldb2").stdout == before
    assert meta(ns, "/etc/sasldb2") == "root:sasl 660"
    assert temps(ns) == ""
    assert auth(ns, "bob@example.com", PW_B) == 235

    out = apply(ns, DELETE, "delete.toml")
    assert holding(ns, PW_B) == [], "the deleted login's password is still in the file"
    assert "saslpasswd2 -d" not in out, out
    assert temps(ns) == ""
    assert meta(ns, "/etc/sasldb2") == "root:sasl 660"
    assert auth(ns, "bob@example.com", PW_B) == 535
    assert auth(ns, "carol@example.com", PW_C) == 235
    assert auth(ns, "alice@example.com", SHORT_A) == 235
    users = ns.run("sasldblistusers2 -f /etc/sasldb2").stdout
    assert "bob@" not in users and "carol@example.com" in users and "alice@" in users


PW_D = "Dq2-Walrus-Figment-Cobalt-Hinge"


def test_a_database_changed_in_place_is_compacted(ns: Namespace) -> None:
    """A database with an entry besides userPassword (the OTP plugin's) cannot be copied entry
    by entry, so saslpasswd2 changes it in place; the apply then dumps it (db5.3_dump, into a
    root-only file next to it) and loads the live records into a new file renamed over it."""
    path = ns.tmp / "dave.toml"
    path.write_text(user("dave@example.com", "PW_D"))
    first = run_wizard(ns, "apply", str(path), env=f"PW_D={shlex.quote(PW_D)}")
    assert first.returncode == 0, first.stdout
    ns.run("chown root:sasl /etc/sasldb2 && chmod 660 /etc/sasldb2")  # kept through the rebuild
    ns.run("printf 'dave\\\\00example.com\\\\00cmusaslsecretOTP\\nnot-a-secret\\n' | "
           "db5.3_load -T -t hash /etc/sasldb2")
    assert holding(ns, PW_D) == [f"{DBS[0]}: {PW_D}", f"{DBS[1]}: {PW_D}"]
    path.write_text(user("dave@example.com", "PW_SHORT"))
    out = apply(ns, path.read_text(), "dave-short.toml")
    assert "db5.3_dump -f" in out and "db5.3_load -f" in out, out  # shown, as it runs
    assert PW_D not in out
    assert holding(ns, PW_D) == [], "dave's old password is still in the file"
    assert "cmusaslsecretOTP" in ns.run("db5.3_dump -p /etc/sasldb2").stdout  # kept
    assert meta(ns, "/etc/sasldb2") == "root:sasl 660"
    assert ns.run("cmp /etc/sasldb2 /var/spool/postfix/etc/sasldb2", check=False).returncode == 0
    assert temps(ns) == ""
    assert auth(ns, "dave@example.com", SHORT_A) == 235
    assert auth(ns, "dave@example.com", PW_D) == 535
