"""The pure validators: what they accept, what they refuse, and how they normalise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailwizard import validate
from mailwizard.validate import Invalid

# --- fqdn ------------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_INNER = _ALNUM + "-"


@st.composite
def labels(draw: st.DrawFn, max_size: int = 63) -> str:
    """One RFC 1123 label: letters, digits, hyphens; no hyphen at either end."""
    size = draw(st.integers(min_value=1, max_value=max_size))
    if size == 1:
        return draw(st.sampled_from(_ALNUM))
    middle = draw(st.text(alphabet=_INNER, min_size=size - 2, max_size=size - 2))
    return draw(st.sampled_from(_ALNUM)) + middle + draw(st.sampled_from(_ALNUM))


@st.composite
def hostnames(draw: st.DrawFn) -> str:
    """A valid host name: 2+ labels, at most 64 characters (the kernel's limit for a host
    name; a domain may have 253), a TLD that is not all digits."""
    head = draw(st.lists(labels(), min_size=1, max_size=4))
    tld = draw(labels(max_size=20).filter(lambda s: not s.isdigit()))
    name = ".".join([*head, tld])
    while len(name) > validate.HOST_NAME_MAX:
        head = head[1:]
        name = ".".join([*head, tld]) if head else "a." + tld
    return name


@given(hostnames())
def test_fqdn_accepts_valid_names(name: str) -> None:
    assert validate.fqdn(name) == name


@given(hostnames())
def test_fqdn_lowercases(name: str) -> None:
    assert validate.fqdn(name.upper()) == name


FORBIDDEN = ["\n", "\r", ",", "=", "$", "#", '"', "'", " ", "\t"]


@given(
    st.text(max_size=30),
    st.sampled_from(FORBIDDEN),
    st.text(max_size=30),
)
def test_fqdn_refuses_any_string_with_a_forbidden_character(
    before: str, bad: str, after: str
) -> None:
    with pytest.raises(Invalid):
        validate.fqdn(before + bad + after)


@given(hostnames(), st.sampled_from(FORBIDDEN), st.integers(min_value=0, max_value=300))
def test_fqdn_refuses_forbidden_character_anywhere_in_a_valid_name(
    name: str, bad: str, at: int
) -> None:
    at = at % (len(name) + 1)
    with pytest.raises(Invalid):
        validate.fqdn(name[:at] + bad + name[at:])


@given(hostnames(), st.sampled_from(FORBIDDEN))
def test_domain_refuses_forbidden_characters(name: str, bad: str) -> None:
    with pytest.raises(Invalid):
        validate.domain(name + bad)
    with pytest.raises(Invalid):
        validate.domain(bad + name)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("a" * 64 + ".example.com", "63"),
        (".".join(["a" * 63] * 4) + ".com", "253"),
        ("-mail.example.com", "hyphen"),
        ("mail-.example.com", "hyphen"),
        ("mail.-example.com", "hyphen"),
        ("localhost", "dot"),
        ("mail", "dot"),
        ("mail.example.123", "number"),
        ("192.0.2.1", "number"),
        ("mail..example.com", "empty label"),
        ("", "empty"),
        ("mail_server.example.com", "letters, digits and hyphens"),
        ("mail.example.com\n", "one line"),
        ("mail.example.com smtpd_banner=x", "space"),
    ],
)
def test_fqdn_refuses(value: str, needle: str) -> None:
    with pytest.raises(Invalid) as exc:
        validate.fqdn(value)
    assert needle in str(exc.value)


def test_fqdn_limits_are_exact() -> None:
    """A label has at most 63 characters and a domain 253; a host name at most 64, the
    kernel's limit (a longer one used to pass here and fail at ``hostname``)."""
    assert validate.fqdn("a" * 52 + ".example.com")
    with pytest.raises(Invalid, match="64 characters"):
        validate.fqdn("a" * 53 + ".example.com")
    with pytest.raises(Invalid, match="63 characters"):
        validate.domain("a" * 64 + ".com")
    name = ".".join(["a" * 63] * 3 + ["b" * 58]) + ".co"
    assert len(name) == 253
    assert validate.domain(name) == name
    with pytest.raises(Invalid, match="253"):
        validate.domain("b" + name)
    with pytest.raises(Invalid, match="64 characters"):
        validate.fqdn(name)


def test_fqdn_idn_to_punycode() -> None:
    assert validate.fqdn("bücher.example") == "xn--bcher-kva.example"
    assert validate.fqdn("mail.BÜCHER.example") == "mail.xn--bcher-kva.example"
    # IDNA 2008: ß is its own letter, not "ss" (IDNA 2003 got this wrong).
    assert validate.fqdn("mail.straße.de") == "mail.xn--strae-oqa.de"


def test_fqdn_trailing_dot_is_dropped() -> None:
    assert validate.fqdn("mail.example.com.") == "mail.example.com"


def test_fqdn_refuses_unicode_lookalikes_of_forbidden_characters() -> None:
    for bad in ("mail.exa＄mple.com", "mail.exa＝mple.com", "mail\u2028.example.com",
                "mail.example.com\u00a0"):
        with pytest.raises(Invalid):
            validate.fqdn(bad)


def test_destination_keeps_debian_variables() -> None:
    assert validate.destination("$myhostname") == "$myhostname"
    assert validate.destination("localhost.$mydomain") == "localhost.$mydomain"
    assert validate.destination("localhost") == "localhost"
    assert validate.destination("Example.COM") == "example.com"
    for bad in ("$myhostname, evil", "192.0.2.1", "$other", "a b"):
        with pytest.raises(Invalid):
            validate.destination(bad)


# --- network ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0.0.0.0/0", "::/0", "[::]/0", "[::ffff:0.0.0.0]/96"])
def test_network_refuses_open_relay(value: str) -> None:
    with pytest.raises(Invalid) as exc:
        validate.network(value)
    assert "open relay" in str(exc.value)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("[::1]/128", "[::1]/128"),
        ("::1", "[::1]/128"),
        ("[::1]", "[::1]/128"),
        ("::1/128", "[::1]/128"),
        ("2001:db8::/32", "[2001:db8::]/32"),
        ("[2001:db8::]/32", "[2001:db8::]/32"),
        ("2001:DB8::/32", "[2001:db8::]/32"),
        ("2001:db8::7", "[2001:db8::7]/128"),
        ("[::ffff:127.0.0.0]/104", "[::ffff:127.0.0.0]/104"),
        ("127.0.0.0/8", "127.0.0.0/8"),
        ("192.168.1.0/24", "192.168.1.0/24"),
        ("10.0.0.5", "10.0.0.5"),
        ("10.0.0.5/32", "10.0.0.5/32"),
        ("[10.0.0.0]/8", "10.0.0.0/8"),
        (" 10.0.0.0/8 ", "10.0.0.0/8"),
    ],
)
def test_network_postfix_form(value: str, shown: str) -> None:
    assert validate.network(value)[0] == shown


def test_network_debian_defaults_unchanged() -> None:
    """The Debian default mynetworks must come back exactly (idempotence of the domains step)."""
    for item in ("127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"):
        assert validate.network(item) == (item, [])


def test_network_private_ranges_do_not_warn() -> None:
    for item in ("10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12", "fd00:1:2::/48"):
        assert validate.network(item)[1] == []


def test_network_public_range_warns() -> None:
    shown, warnings = validate.network("8.8.8.0/24")
    assert shown == "8.8.8.0/24"
    assert len(warnings) == 1 and "public" in warnings[0].message
    _, warnings = validate.network("[::ffff:8.8.8.0]/120")  # mapped IPv4 is judged as IPv4
    assert any("public" in w.message for w in warnings)


def test_network_wide_range_warns() -> None:
    shown, warnings = validate.network("fd00::/8")
    assert shown == "[fd00::]/8"
    assert any("very wide" in w.message for w in warnings)
    _, warnings = validate.network("8.8.0.0/16")
    assert any("wider than /24" in w.message for w in warnings)
    _, warnings = validate.network("[2a00:1::]/40")
    assert any("wider than /48" in w.message for w in warnings)


@pytest.mark.parametrize("value", ["0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/4", "2000::/3",
                                   "[::]/1", "[::ffff:0.0.0.0]/97", "4.0.0.0/7"])
def test_network_covering_much_of_the_internet_is_refused(value: str) -> None:
    with pytest.raises(validate.Invalid, match=r"at most a /.*open relay"):
        validate.network(value)


@pytest.mark.parametrize("union", [
    ["1.0.0.0/9", "1.128.0.0/9", "2.0.0.0/9", "2.128.0.0/9"],
    ["[2000::]/17", "[2000:8000::]/17", "[3000::]/17"],
    [f"{a}.0.0.0/8" for a in range(1, 10)],
])
def test_networks_judged_together(union: list[str]) -> None:
    shown = [validate.network(n)[0] for n in union]  # each alone passes (with a warning)
    with pytest.raises(validate.Invalid, match="together, mynetworks trusts public IPv"):
        validate.networks_together(shown)


def test_networks_together_allows_private_and_small_public() -> None:
    validate.networks_together(["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
                                "192.168.0.0/16", "[fd00::]/8", "8.8.8.0/24", "[::1]/128"])


def test_network_host_bits_warn_and_normalise() -> None:
    shown, warnings = validate.network("192.168.1.7/24")
    assert shown == "192.168.1.0/24"
    assert any("192.168.1.0/24" in w.message for w in warnings)


@pytest.mark.parametrize(
    "value",
    ["garbage", "", "   ", "10", "1.2.3.4/33", "2001:db8::/129", "10.0.0.0/8, 8.8.8.8",
     "10.0.0.0/8 8.8.8.8", "10.0.0.0/8\n", "10.0.0.0/8\nrelayhost=evil", "$mynetworks",
     "[::1/128]", "fe80::1%eth0", "fe80::%eth0/64", "10.0.0.0/8#", "hash:/etc/postfix/net"],
)
def test_network_refuses_garbage(value: str) -> None:
    with pytest.raises(Invalid):
        validate.network(value)


@given(st.text(max_size=40))
def test_network_never_crashes_and_output_is_safe(text: str) -> None:
    try:
        shown, _ = validate.network(text)
    except Invalid:
        return
    assert not any(ch in shown for ch in " ,\n\r\t=$#'\"%")


# --- address, local_name, password, others --------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["|/usr/bin/evil", "| cmd", "/var/mail/file", ":include:/etc/list", '"|cmd"@example.com',
     "root\n", "root, evil", "a@b@", "user@", "@example.com", "us er@example.com",
     "user@example.com\nx", "root:", ".user@example.com", "a..b@example.com"],
)
def test_address_refuses(value: str) -> None:
    with pytest.raises(Invalid):
        validate.address(value)


def test_address_refusal_message_names_commands_and_files() -> None:
    for value in ("|cmd", "/file", ":include:/x"):
        with pytest.raises(Invalid) as exc:
            validate.address(value)
        assert "commands or files" in str(exc.value)


def test_address_accepts() -> None:
    assert validate.address("root") == "root"
    assert validate.address("Admin@Example.NET") == "Admin@example.net"
    assert validate.address("first.last+tag@bücher.example") == (
        "first.last+tag@xn--bcher-kva.example")


def test_local_name() -> None:
    assert validate.local_name("Postmaster") == "postmaster"
    for bad in ("", "a:b", "-x", "a b", "x\n", "x."):
        with pytest.raises(Invalid):
            validate.local_name(bad)


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("short", "at least 10"),
        ("aaaaaaaaaaaa", "too easy to guess"),  # zxcvbn: a repeat
        ("abababababab", "too easy to guess"),
        ("good password\nx", "line break"),
        ("alice@example.com", "login"),
    ],
)
def test_password_refuses_weak(value: str, needle: str) -> None:
    with pytest.raises(Invalid) as exc:
        validate.password(value, user="alice@example.com")
    assert needle in str(exc.value)
    assert value not in str(exc.value)


def test_password_refuses_the_bare_user_name() -> None:
    with pytest.raises(Invalid):
        validate.password("alicealice", user="alicealice@example.com")


def test_password_accepts_strong() -> None:
    assert validate.password("correct horse battery", user="alice@example.com") == (
        "correct horse battery")


def test_selector_sasl_user_dkim_bits() -> None:
    assert validate.selector("Mail") == "mail"
    assert validate.selector("2026") == "2026"
    for bad in ("mail.x", "a b", "", "-x", "x\n"):
        with pytest.raises(Invalid):
            validate.selector(bad)
    assert validate.sasl_user("Alice@Example.com") == "alice@example.com"
    for bad in ("alice", "al ice@example.com", "alice@example", "alice@example.com\n"):
        with pytest.raises(Invalid):
            validate.sasl_user(bad)
    assert validate.dkim_bits(2048) == 2048
    assert validate.dkim_bits("4096") == 4096
    for bits in (1024, 2000, "x"):
        with pytest.raises(Invalid):
            validate.dkim_bits(bits)


@pytest.mark.parametrize(("value", "named"), [("$myhostname;", "';'"),
                                              ("localhost.$mydomain|", "'|'"),
                                              ("$mydomain=x", "'='")])
def test_destination_names_the_character_after_a_variable(value: str, named: str) -> None:
    """`$myhostname; localhost`: the fault is the `;`, not the `$` of a known variable."""
    with pytest.raises(Invalid) as exc:
        validate.destination(value)
    assert named in str(exc.value) and "'$'" not in str(exc.value)
