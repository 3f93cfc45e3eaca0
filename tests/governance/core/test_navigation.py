"""Navigation by role: each role sees its entries and none of another role's."""

from __future__ import annotations

import re
from html import unescape as html_unescape

import pytest
from django.test import Client

from governance.core.context_processors import NAVIGATION

pytestmark = pytest.mark.django_db

# Spelled out rather than derived from NAVIGATION, so a wrong role on an entry fails here.
_READER = {
    "Home",
    "VMs",
    "Clusters",
    "Storage",
    "Exposure",
    "OS diversity",
    "Ownership",
    "My VMs",
    "Policies",
    "Violations",
    "Requests",
    "Quotas",
}
EXPECTED = {
    "end_user": {"Home", "My VMs", "Violations", "Requests"},
    "manager": {
        "Home",
        "Teams",
        "OS diversity",
        "My VMs",
        "Violations",
        "Requests",
        "Approvals",
        "Quotas",
    },
    "security_officer": _READER | {"Audit", "Approvals"},
    "auditor": _READER | {"Audit"},
    "admin": _READER | {"People & Teams", "Audit", "API docs", "Approvals", "Approval chains"},
}


def _nav_labels(html: str) -> set[str]:
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    assert nav, "the page has no main navigation"
    return {html_unescape(label) for label in re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(0))}


def _nav_urls(html: str) -> list[str]:
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    return re.findall(r'<a href="([^"]+)"', nav.group(0))


@pytest.mark.parametrize(("role", "labels"), EXPECTED.items())
def test_role_sees_exactly_its_entries(make_user, role, labels):
    client = Client()
    client.force_login(make_user(role))
    response = client.get("/")
    assert response.status_code == 200
    assert _nav_labels(response.content.decode()) == labels


@pytest.mark.parametrize("role", EXPECTED)
def test_every_link_a_role_sees_opens_for_it(make_user, role):
    # The navigation only hides links; this keeps it in step with the views' own checks.
    client = Client()
    client.force_login(make_user(role))
    for url in _nav_urls(client.get("/").content.decode()):
        assert client.get(url).status_code == 200, url


def test_superuser_counts_as_admin(make_user):
    client = Client()
    client.force_login(make_user(is_superuser=True))
    assert _nav_labels(client.get("/").content.decode()) == EXPECTED["admin"]


def test_user_of_several_roles_sees_the_union(make_user):
    client = Client()
    client.force_login(make_user("auditor", "admin"))
    assert _nav_labels(client.get("/").content.decode()) == EXPECTED["auditor"] | EXPECTED["admin"]


def test_every_role_is_covered_and_every_entry_is_reachable():
    from governance.accounts.roles import Role

    assert set(EXPECTED) == set(Role.values)
    assert {entry.label for entry in NAVIGATION} == set().union(*EXPECTED.values())


def test_current_page_is_marked(make_user):
    client = Client()
    client.force_login(make_user("end_user"))
    html = client.get("/").content.decode()
    assert re.search(r'<a href="/" aria-current="page">Home</a>', html)


def test_anonymous_pages_have_no_navigation():
    html = Client().get("/accounts/login/").content.decode()
    assert 'class="mainnav"' not in html
