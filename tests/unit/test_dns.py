"""The records to publish and `mailwizard zone`: text, splitting, names, and a zone nsd loads."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mailwizard import cli, dns, dnsrecords
from mailwizard.system import Result, System
from mailwizard.validate import Invalid
from tests.support import DNS_CONFIG as CONFIG
from tests.support import DNS_KEY as KEY
from tests.support import RecordingRunner, SandboxReader, sandbox_system

SOA = ("$TTL 3600\n{origin}. IN SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n"
       "{origin}. IN NS ns.{origin}.\nns.{origin}. IN A 127.0.0.1\n")


def by_purpose(config: dns.Config = CONFIG) -> dict[str, list[dns.Record]]:
    out: dict[str, list[dns.Record]] = {}
    for r in dns.records(config):
        out.setdefault(r.purpose, []).append(r)
    return out


def test_every_record_has_an_absolute_name() -> None:
    recs = dns.records(CONFIG)
    assert {r.type for r in recs} == {"A", "AAAA", "MX", "TXT", "PTR"}
    assert all(r.name.endswith(".") for r in recs)
    got = by_purpose()
    assert got["dns.mx"][0].value == "10 mail.example.com."
    assert got["dns.ptr"][0].name == "10.2.0.192.in-addr.arpa."
    assert got["dns.ptr"][0].value == "mail.example.com."
    assert got["dns.ptr"][1].name.endswith(".8.b.d.0.1.0.0.2.ip6.arpa.")
    assert got["dns.dmarc"][0].name == "_dmarc.example.com."
    assert got["dns.dkim"][0].name == "mail._domainkey.example.com."


def test_dkim_strings_are_at_most_255_bytes_and_join_to_the_flat_record() -> None:
    dkim = by_purpose()["dns.dkim"][0]
    assert dkim.value == f"v=DKIM1; h=sha256; k=rsa; p={KEY}"
    assert len(dkim.strings) >= 2
    assert all(len(s.encode()) <= 255 for s in dkim.strings)
    assert "".join(dkim.strings) == dkim.value
    assert dkim.rdata == " ".join(f'"{s}"' for s in dkim.strings)


def test_splitting_counts_bytes_not_characters() -> None:
    text = "é" * 200  # 400 bytes in 200 characters
    parts = dnsrecords.split_strings(text)
    assert [len(p.encode()) for p in parts] == [254, 146]
    assert "".join(parts) == text


def test_quotes_and_backslashes_are_escaped() -> None:
    r = dns.Record("x.example.com.", "TXT", 'say "hi" \\ bye', "dns.spf")
    assert r.rdata == '"say \\"hi\\" \\\\ bye"'


def test_idn_domains_become_a_labels() -> None:
    config = dns.Config(hostname="mail.bücher.example", domains=("bücher.example",),
                        ipv4=("192.0.2.10",), ipv6=(), dmarc="v=DMARC1; p=none")
    names = {r.name for r in dns.records(config)}
    assert "mail.xn--bcher-kva.example." in names
    assert "_dmarc.xn--bcher-kva.example." in names
    assert all(n.isascii() for n in names)
    assert dns.a_label("MAIL.Example.COM.") == "mail.example.com"
    with pytest.raises(Invalid):
        dns.a_label("bad..name")


def nsd_loads(zone: str, origin: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{origin}.zone"
    path.write_text(SOA.format(origin=origin) + zone)
    checkzone = shutil.which("nsd-checkzone") or "/usr/sbin/nsd-checkzone"
    return subprocess.run([checkzone, origin, str(path)], capture_output=True, text=True)


def test_zone_text_loads_in_nsd_unchanged(tmp_path: Path) -> None:
    text = dns.zone_text(CONFIG)
    result = nsd_loads(text, "example.com", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr + text
    assert "mail.example.com. 3600 IN A 192.0.2.10" in text
    assert "example.com. 3600 IN MX 10 mail.example.com." in text
    assert 'example.com. 3600 IN TXT "v=spf1 mx ~all"' in text
    assert f"; DKIM, one line for a registrar's form: v=DKIM1; h=sha256; k=rsa; p={KEY}" in text
    assert "; 10.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.com." in text
    lines = [line for line in text.splitlines() if line and not line.startswith(";")]
    assert len(lines) == 6, text  # A, AAAA, MX, SPF, DKIM, DMARC; PTR only as advice


def configure(sandbox: Path, extra: str = "") -> System:
    main = sandbox / "etc/postfix/main.cf"
    text = main.read_text()
    text = text.replace("myhostname = debian", "myhostname = mail.example.com")
    text = text.replace("mydestination = $myhostname, debian, localhost.localdomain, localhost",
                        "mydestination = $myhostname, example.com, mail.example.com, localhost")
    main.write_text(text.replace("inet_protocols = all", "inet_protocols = ipv4") + extra)
    return sandbox_system(sandbox)



def test_config_is_read_from_postfix_the_records_file_and_the_key(
        sandbox: Path, real_key: Path) -> None:
    system = configure(sandbox)
    shutil.copy(real_key / "mail.private", sandbox / "etc/dkimkeys/mail.private")
    (sandbox / "etc/mailwizard").mkdir(parents=True, exist_ok=True)
    (sandbox / "etc/mailwizard/dns.toml").write_text(
        '[spf]\nrecord = "v=spf1 mx -all"\n[dmarc]\npolicy = "quarantine"\nrua = ""\n'
        '[blocklist]\nzones = "bl.example.org, other.example"\n')
    config = dns.read_config(system, ipv4="192.0.2.10")
    assert config.hostname == "mail.example.com"
    assert config.domains == ("example.com",)  # not the host itself, not localhost
    assert config.ipv4 == ("192.0.2.10",) and config.ipv6 == ()  # inet_protocols = ipv4
    assert config.spf == "v=spf1 mx -all"
    assert config.dmarc == "v=DMARC1; p=quarantine"
    assert config.blocklists == ("bl.example.org", "other.example")
    txt = (real_key / "mail.txt").read_text()
    assert config.dkim_key == dnsrecords.dkim_p("".join(dnsrecords.unquote_strings(txt)))


def test_smtp_bind_address_is_the_outbound_address(sandbox: Path) -> None:
    system = configure(sandbox, "smtp_bind_address = 198.51.100.4\n")
    assert dns.outbound_addresses(system) == (("198.51.100.4",), ())


def test_zone_command_prints_the_zone(sandbox: Path, real_key: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    configure(sandbox)
    shutil.copy(real_key / "mail.private", sandbox / "etc/dkimkeys/mail.private")
    code = cli.main(["--root", str(sandbox), "zone", "--ipv4", "192.0.2.10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "mail.example.com. 3600 IN A 192.0.2.10" in out
    assert "mail._domainkey.example.com. 3600 IN TXT" in out
    assert nsd_loads(out, "example.com", tmp_path).returncode == 0


def test_zone_command_refuses_a_bad_address(sandbox: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    configure(sandbox)
    code = cli.main(["--root", str(sandbox), "zone", "--ipv4", "2001:db8::1"])
    _, err = capsys.readouterr()
    assert code == 1 and "--ipv4 2001:db8::1: not an IPv4 address" in err
    code = cli.main(["--root", str(sandbox), "zone", "--ipv6", "nonsense"])
    _, err = capsys.readouterr()
    assert code == 1 and "--ipv6 nonsense: not an IPv6 address" in err


def test_zone_needs_a_full_host_name(sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--root", str(sandbox), "zone", "--ipv4", "192.0.2.10"])
    _, err = capsys.readouterr()
    assert code == 1 and "myhostname is 'debian'" in err


# -- which addresses are published: only ones the Internet can reach ------------------------


class Interfaces(SandboxReader):
    """The sandbox's real queries, but ``ip -j [-4|-6] addr`` answers with these addresses
    (the kernel's JSON shape), as a machine with a LAN or ULA address would."""

    def __init__(self, *addresses: str) -> None:
        super().__init__()
        self.addresses = addresses

    def run(self, argv: Sequence[str], **kwargs: Any) -> Result:
        if argv and argv[0] == "ip":
            infos = [{"family": "inet6" if ":" in a else "inet", "local": a, "prefixlen": 64,
                      "scope": "global"} for a in self.addresses
                     if not ({"-4", "-6"} & set(argv)) or ("-6" in argv) == (":" in a)]
            return Result(tuple(argv), 0, json.dumps([{"ifname": "eth0", "addr_info": infos}]),
                          "")
        return super().run(argv, **kwargs)


def with_interfaces(sandbox: Path, *addresses: str, extra: str = "") -> System:
    configure(sandbox, "inet_protocols = all\n" + extra)
    return sandbox_system(sandbox, RecordingRunner(reader=Interfaces(*addresses)))


def test_a_ula_is_not_published_as_aaaa_and_the_zone_says_why(sandbox: Path) -> None:
    system = with_interfaces(sandbox, "192.0.2.10", "fd12:3456:789a::25")
    config = dns.read_config(system)
    assert config.ipv6 == ()
    text = dns.zone_text(config)
    assert " IN AAAA " not in text and "fd12" not in text.split("; NOTE")[0]
    assert "ip6.arpa" not in text  # no PTR advice for it either
    assert "; NOTE: fd12:3456:789a::25 (eth0) is not published: a unique local address " \
           "(ULA, fc00::/7)" in text


def test_a_global_address_after_a_ula_is_the_one_published(sandbox: Path) -> None:
    system = with_interfaces(sandbox, "fd00::25", "2a01:4f8:1:2::25", "10.0.0.5", "203.0.113.7")
    config = dns.read_config(system)
    assert (config.ipv4, config.ipv6) == (("203.0.113.7",), ("2a01:4f8:1:2::25",))
    assert not any("is not published" in n for n in config.notes)  # a public one was found


@pytest.mark.parametrize(("address", "why"), [
    ("10.0.0.5", "a private address (RFC 1918)"),
    ("172.20.1.1", "a private address (RFC 1918)"),
    ("192.168.1.20", "a private address (RFC 1918)"),
    ("100.64.3.4", "shared address space (carrier-grade NAT, RFC 6598)"),
    ("fd00::25", "a unique local address (ULA, fc00::/7)"),
    ("fec0::25", "a site-local address (fec0::/10, deprecated)"),
])
def test_only_a_private_address_leaves_none_and_says_so(sandbox: Path, address: str,
                                                        why: str) -> None:
    system = with_interfaces(sandbox, address)
    config = dns.read_config(system)
    assert config.addresses == ()
    note = next(n for n in config.notes if address in n)
    assert f"{address} (eth0) is not published: {why}" in note
    assert "--ipv" in note  # what to do instead
    assert all(address not in r.value for r in dns.records(config))


def test_a_private_smtp_bind_address_is_left_out_with_its_reason(sandbox: Path) -> None:
    system = with_interfaces(sandbox, extra="smtp_bind_address = 192.168.1.20\n")
    config = dns.read_config(system)
    assert config.ipv4 == ()
    assert any("smtp_bind_address 192.168.1.20 is not published: a private address "
               "(RFC 1918)" in n for n in config.notes)


@pytest.mark.parametrize(("option", "address"), [("--ipv4", "10.1.2.3"),
                                                 ("--ipv6", "fd00::1"),
                                                 ("--ipv6", "fe80::1")])
def test_zone_refuses_a_non_public_address_given_on_the_command_line(
        sandbox: Path, capsys: pytest.CaptureFixture[str], option: str, address: str) -> None:
    configure(sandbox, "inet_protocols = all\n")
    code = cli.main(["--root", str(sandbox), "zone", option, address])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert f"mailwizard zone: {option} {address}: " in err
    assert "not reachable from the Internet" in err


def test_documentation_addresses_stay_published(sandbox: Path) -> None:
    """192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 (RFC 5737, 3849) are
    the stand-ins for public addresses in examples and in these tests."""
    system = with_interfaces(sandbox, "198.51.100.4", "2001:db8::25")
    config = dns.read_config(system)
    assert (config.ipv4, config.ipv6) == (("198.51.100.4",), ("2001:db8::25",))
    config = dns.read_config(system, ipv4="192.0.2.10", ipv6="2001:db8::10")
    assert config.addresses == ("192.0.2.10", "2001:db8::10")
