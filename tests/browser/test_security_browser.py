"""The login, two-factor enrolment and code pages in a real Chromium, under the CSP."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from console.models import Role
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, make_account


def _csp_errors(tab: Any) -> list[str]:
    errors: list[str] = []
    tab.on(
        "console",
        lambda message: errors.append(message.text)
        if "Content Security Policy" in message.text or "Refused to" in message.text
        else None,
    )
    return errors


def test_enrolment_and_sign_in_with_a_code_under_the_csp(page):
    make_account(Role.admin, "admin@example.com")
    errors = _csp_errors(page)
    page.goto("/login")
    assert page.locator("h1").inner_text() == "Log in"
    page.fill("input[name=email]", "admin@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/"))

    errors.clear()  # the admin pages are not ours to judge here
    page.goto("/account/two-factor")
    qr = page.locator("#totp-qr svg")
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 150 and box["height"] >= 150
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "two_factor_enrolment.png"), full_page=True)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button:has-text('Turn on two-factor sign-in')")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.screenshot(path=str(ARTIFACTS / "two_factor_recovery_codes.png"), full_page=True)
    page.click("text=I have saved them")
    assert "On: signing in takes your password" in page.locator("#two-factor-status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "account_page.png"), full_page=True)
    assert errors == []

    page.click("button:has-text('Log out')")
    page.wait_for_url(re.compile(r"/login"))
    page.fill("input[name=email]", "admin@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/login/code"))
    page.screenshot(path=str(ARTIFACTS / "two_factor_code_step.png"), full_page=True)
    page.fill("input[name=code]", codes[0])
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r"/admin/"))
    assert "recovery code; 9 left" in page.content()
    assert errors == []
