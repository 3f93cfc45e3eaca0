"""An admin whose role requires a second factor enrols on first sign-in and uses it next time.

The shared server runs the embedded defaults (nobody needs a second factor), so this
module starts its own daphne on the same database with ``MFA_REQUIRED_ROLES=admin``.
"""

from __future__ import annotations

import dataclasses
import re
from base64 import b32decode
from collections.abc import Iterator

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from .conftest import ACTION_TIMEOUT_MS, BROWSER_PASSWORD, BrowserStack, serve_daphne

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def mfa_server(browser_stack: BrowserStack) -> Iterator[str]:
    env = {**browser_stack.env, "MFA_REQUIRED_ROLES": "admin"}
    yield from serve_daphne(dataclasses.replace(browser_stack, env=env), "daphne-mfa")


def _code(secret: str, *, steps_ahead: int = 0) -> str:
    # The app's view of the secret; a step ahead so a code is never one already used.
    return f"{totp(b32decode(secret), drift=steps_ahead):06d}"


def _password_step(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(BROWSER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_enrols_then_signs_in_with_a_code(chromium, mfa_server, make_user):
    username = make_user("admin")
    context = chromium.new_context(base_url=mfa_server)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        _password_step(page, username)
        expect(page).to_have_url(re.compile(r"/accounts/mfa/enrol/"))
        expect(page.get_by_text("Your role requires a second factor")).to_be_visible()
        expect(page.locator(".mfa-qr svg")).to_be_visible()
        page.goto("/inventory/clusters/")  # anything else leads back to enrolment
        expect(page).to_have_url(
            re.compile(r"/accounts/mfa/enrol/\?next=%2Finventory%2Fclusters%2F")
        )

        secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
        page.get_by_role("textbox", name="Code").fill(_code(secret))
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator("#mfa-codes li")).to_have_count(10)
        page.get_by_role("link", name="I have saved them, continue").click()
        expect(page).to_have_url(f"{mfa_server}/inventory/clusters/")

        page.locator(".usermenu summary").click()
        page.get_by_role("button", name="Sign out").click()
        _password_step(page, username)
        expect(page).to_have_url(re.compile(r"/accounts/mfa/verify/"))
        page.get_by_role("textbox", name="Code").fill("000000")
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_text("That code is not valid.")).to_be_visible()
        page.get_by_role("textbox", name="Code").fill(_code(secret, steps_ahead=1))
        page.get_by_role("button", name="Verify").click()
        expect(page).to_have_url(f"{mfa_server}/")
        page.goto("/accounts/profile/")
        expect(page.locator("#mfa")).to_contain_text("Recovery codes left: 10")
    finally:
        context.close()
