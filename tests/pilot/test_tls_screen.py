"""Pilot tests of the TLS screen: the source choice, the certificate checks at the fields,
review and apply (real openssl on throwaway certificates)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from textual.widgets import Input, RadioButton, RadioSet

from mailwizard.screens.review import ReviewScreen
from mailwizard.screens.streamlog import StreamLog
from mailwizard.screens.tls import TlsScreen
from mailwizard.steps.tls import SNAKEOIL_CERT, SNAKEOIL_KEY
from mailwizard.system import System
from tests.pilot.harness import (
    apply_from_review,
    field_message,
    make_app,
    static_text,
    step_ready,
    type_into,
    wait_for,
)
from tests.support import SANDBOX_HOST, TLS_CERT, TLS_KEY, RecordingRunner
from tests.support import install_certs as install

HOST = SANDBOX_HOST
CERT, KEY = TLS_CERT, TLS_KEY
CERT_INPUT, KEY_INPUT = "#field-tls-cert_file", "#field-tls-key_file"


def pressed(screen: TlsScreen) -> str:
    return screen.choice


async def test_fresh_machine_generates_snakeoil(sandbox: Path, certs: Path) -> None:
    runner = RecordingRunner(effects={"make-ssl-cert": lambda argv: install(
        sandbox, certs, "good.pem", "good.key", to=(SNAKEOIL_CERT, SNAKEOIL_KEY))})
    app = make_app(sandbox, runner, start_step="tls")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, TlsScreen)
        await wait_for(pilot, lambda: screen.found is not None, what="the probe")
        assert pressed(screen) == "tls-snakeoil"
        # Nothing to type for snakeoil: the paths are shown, not editable.
        assert screen.value("tls.cert_file") == SNAKEOIL_CERT
        assert screen.query_one(CERT_INPUT, Input).disabled
        assert screen.query_one("#tls-le", RadioButton).disabled  # no certbot pair
        assert "make-ssl-cert generates it" in field_message(screen, "tls.snakeoil")
        changes = static_text(screen, "#changes-text")
        assert "run: make-ssl-cert generate-default-snakeoil" in changes
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        diff = static_text(app.screen, "#review-diff")
        assert f"+smtpd_tls_cert_file = {SNAKEOIL_CERT}" in diff
        assert "+smtpd_tls_security_level = may" in diff
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok, "\n".join(
            apply_screen.query_one(StreamLog).lines)
        argvs = runner.argvs()
        assert ("make-ssl-cert", "generate-default-snakeoil") in argvs
        assert any(a[:2] in (("postfix", "reload"), ("postfix", "start")) for a in argvs)
        main = (sandbox / "etc/postfix/main.cf").read_text()
        assert f"smtpd_tls_key_file = {SNAKEOIL_KEY}" in main


async def test_own_files_are_checked_at_the_fields(sandbox: Path, certs: Path,
                                                   runner: RecordingRunner) -> None:
    install(sandbox, certs, "other.pem", "good.key")
    app = make_app(sandbox, runner, start_step="tls")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, TlsScreen)
        await pilot.click("#tls-own")
        await step_ready(pilot)
        assert not screen.query_one(CERT_INPUT, Input).disabled
        # Not an absolute path: refused as typed.
        await type_into(pilot, CERT_INPUT, "cert.pem", keys=2)
        await step_ready(pilot)
        assert "must be an absolute path" in field_message(screen, "tls.cert_file")
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert app.screen is screen
        # A file that is not there.
        await type_into(pilot, CERT_INPUT, "/etc/ssl/none.pem", keys=2)
        await type_into(pilot, KEY_INPUT, KEY, keys=2)
        await step_ready(pilot)
        assert field_message(screen, "tls.cert_file") == "✖ /etc/ssl/none.pem does not exist"
        # The key of another certificate, and a certificate for another name.
        await type_into(pilot, CERT_INPUT, CERT, keys=2)
        await step_ready(pilot)
        assert field_message(screen, "tls.key_file") == f"✖ {KEY} does not belong to {CERT}"
        assert field_message(screen, "tls.cert_file").startswith(
            f"! {CERT} is for other.example.org, not for {HOST}")
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert app.screen is screen
        assert runner.calls == []
        # The right pair: reviewed and applied.
        install(sandbox, certs, "good.pem", "good.key")
        await type_into(pilot, KEY_INPUT, KEY, keys=1)
        await step_ready(pilot)
        assert field_message(screen, "tls.key_file").startswith("its private key")
        assert field_message(screen, "tls.cert_file").startswith("the certificate")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        review = app.screen
        diff = static_text(review, "#review-diff")
        assert f"+smtpd_tls_cert_file = {CERT}" in diff
        assert f"+smtpd_tls_key_file = {KEY}" in diff
        assert "PRIVATE KEY" not in diff
        apply_screen = await apply_from_review(pilot)
        assert apply_screen.result is not None and apply_screen.result.ok
        assert ("make-ssl-cert", "generate-default-snakeoil") not in runner.argvs()
        assert any(a[:2] in (("postfix", "reload"), ("postfix", "start"))
                   for a in runner.argvs())
        assert f"smtpd_tls_cert_file = {CERT}" in (sandbox / "etc/postfix/main.cf").read_text()


async def test_lets_encrypt_is_offered_when_present(sandbox: Path, certs: Path,
                                                   runner: RecordingRunner) -> None:
    live = f"/etc/letsencrypt/live/{HOST}"
    install(sandbox, certs, "good.pem", "good.key",
            to=(f"{live}/fullchain.pem", f"{live}/privkey.pem"))
    app = make_app(sandbox, runner, start_step="tls")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, TlsScreen)
        await wait_for(pilot, lambda: screen.choice == "tls-le", what="Let's Encrypt chosen")
        await step_ready(pilot)
        assert not screen.query_one("#tls-le", RadioButton).disabled
        assert screen.value("tls.cert_file") == f"{live}/fullchain.pem"
        assert screen.query_one(KEY_INPUT, Input).disabled
        assert "certbot" in field_message(screen, "tls.snakeoil")
        assert f"+smtpd_tls_cert_file = {live}/fullchain.pem" not in static_text(
            screen, "#changes-text")  # the panel shows a summary, the diff is in review
        assert "/etc/postfix/main.cf" in static_text(screen, "#changes-text")
        # Switching to snakeoil and back keeps nothing typed by accident.
        await pilot.click("#tls-snakeoil")
        await step_ready(pilot)
        assert screen.value("tls.key_file") == SNAKEOIL_KEY
        await pilot.click("#tls-le")
        await step_ready(pilot)
        assert screen.value("tls.key_file") == f"{live}/privkey.pem"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert f"+smtpd_tls_key_file = {live}/privkey.pem" in static_text(
            app.screen, "#review-diff")


async def test_the_source_choice_has_focus_so_arrows_and_enter_work_at_once(
        sandbox: Path, runner: RecordingRunner) -> None:
    """Issue 11 item 8: the screen opened with nothing focused; arrows and Enter did nothing."""
    app = make_app(sandbox, runner, start_step="tls")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, TlsScreen)
        source = screen.query_one("#tls-source", RadioSet)
        assert app.focused is source
        assert pressed(screen) == "tls-snakeoil"
        await pilot.press("left", "enter")  # to "Your own files" and choose it
        await step_ready(pilot)
        assert pressed(screen) == "tls-own"
        assert not screen.query_one(CERT_INPUT, Input).disabled
        assert app.focused is source  # still there: right + enter goes back
        await pilot.press("right", "enter")
        await step_ready(pilot)
        assert pressed(screen) == "tls-snakeoil"


async def test_greyed_lets_encrypt_says_why_and_what_would_offer_it(
        sandbox: Path, runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    real = System.which
    monkeypatch.setattr(System, "which", lambda self, name: (
        None if name == "certbot" else real(self, name)))
    subprocess.run(["postconf", "-c", f"{sandbox}/etc/postfix", "-e",
                    "myhostname=mail.example.com"], check=True)
    app = make_app(sandbox, runner, start_step="tls")
    async with app.run_test(size=(80, 24)) as pilot:
        await step_ready(pilot)
        screen = app.screen
        assert isinstance(screen, TlsScreen)
        assert screen.query_one("#tls-le", RadioButton).disabled
        message = " ".join(field_message(screen, "tls.snakeoil").split())
        assert "Let's Encrypt" in message
        assert "certbot is not installed" in message
        assert "no certificate in /etc/letsencrypt/live/mail.example.com/" in message
        assert "certbot certonly" in message
        # The reason stays while the admin moves between the other two choices.
        await pilot.press("left", "enter")
        await step_ready(pilot)
        assert "certbot is not installed" in field_message(screen, "tls.snakeoil")
