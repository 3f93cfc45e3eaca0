"""Signing in through the real login page, and what each role then sees."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import BROWSER_USERS

pytestmark = pytest.mark.browser


def test_login_page_signs_in_and_shows_home(page, sign_in, daphne_server):
    page.goto("/")
    # Anonymous visitors are sent to the login page, which then returns them home.
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    sign_in(page, "end_user")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Erin")
    expect(page.get_by_test_id("roles")).to_contain_text("End user")
    expect(page.locator("[data-live-status]")).to_have_attribute("data-live-status", "online")


def test_wrong_password_shows_an_inline_error(page, daphne_server):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(BROWSER_USERS["manager"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    # The username survives the round trip; the password does not.
    expect(page.get_by_label("Username")).to_have_value(BROWSER_USERS["manager"])
    expect(page.get_by_label("Password")).to_have_value("")


def _nav(page):
    return page.get_by_role("navigation", name="Main")


def test_end_user_does_not_see_admin_navigation(page, sign_in):
    sign_in(page, "end_user")
    nav = _nav(page)
    expect(nav.get_by_role("link", name="Home")).to_be_visible()
    for label in ("People & Teams", "Audit", "API docs"):
        expect(nav.get_by_role("link", name=label)).to_have_count(0)


def test_admin_sees_admin_navigation_and_can_sign_out(page, sign_in):
    sign_in(page, "admin")
    nav = _nav(page)
    for label in ("Home", "People & Teams", "Audit", "API docs"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    nav.get_by_role("link", name="Audit").click()
    expect(nav.get_by_role("link", name="Audit")).to_have_attribute("aria-current", "page")
    other_tab = page.context.new_page()
    other_tab.goto("/")
    other_status = other_tab.locator("[data-live-status]")
    expect(other_status).to_have_attribute("data-live-status", "online")

    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    # The other tab's socket is closed by the server, and it does not reconnect.
    expect(other_status).to_have_attribute("data-live-status", "signed-out")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_phone_width_keeps_navigation_reachable(page, sign_in):
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "auditor")
    nav = _nav(page)
    expect(nav.get_by_role("link", name="Audit")).to_be_visible()
    # Nothing may force sideways scrolling of the whole page on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
