"""The main navigation keeps every entry in sight, whatever the role and the width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

_ADMIN_ENTRIES = (
    "Home", "VMs", "Clusters", "Storage", "OS diversity", "Exposure", "Ownership", "My VMs",
    "Requests", "Approvals", "Approval chains", "Quotas", "Policies", "Violations",
    "People & Teams", "Audit", "API docs",
)  # fmt: skip


@pytest.mark.parametrize("width", [1280, 1024])
def test_an_admin_sees_every_entry_without_scrolling_the_bar(page, sign_in, width):
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, "admin")
    nav = page.get_by_role("navigation", name="Main")
    for label in _ADMIN_ENTRIES:
        link = nav.get_by_role("link", name=label, exact=True)
        expect(link).to_be_visible()
        assert link.evaluate("a => a.getBoundingClientRect().right <= window.innerWidth"), label
    assert nav.evaluate("n => n.scrollWidth <= n.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The groups are marked where they begin: inventory, requests, policy, administration.
    starts = nav.locator("li.mainnav__group-start").all_inner_texts()
    assert [s.strip() for s in starts] == ["VMs", "Requests", "Policies", "People & Teams"]
