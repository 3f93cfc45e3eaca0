"""The policy editor: a dry run is shown before every save, and only what was previewed
is saved; refusals say what to fix, on the field they concern."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from policy.models import Policy, PolicyVersion

pytestmark = pytest.mark.django_db

FORM = {
    "name": "pin-prod",
    "kind": "host_pinning",
    "mode": "enforce",
    "enabled": "on",
    "scope_clusters": "pve-test",
    "parameters": "allowed_nodes: [node1]",
    "comment": "keep prod on node1",
}


@pytest.fixture
def officer(people, estate, records) -> Client:
    client = Client()
    client.force_login(people.security)
    return client


def _token(html: str) -> str:
    found = re.search(r'name="preview_token" value="([^"]+)"', html)
    assert found, "the page offers no save"
    return found.group(1)


def test_new_policy_is_previewed_then_saved(officer, people):
    page = officer.get("/policy/new/").content.decode()
    assert "Preview (dry run)" in page
    assert 'value="save"' not in page

    preview = officer.post("/policy/new/", {**FORM, "action": "preview"})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert 'data-testid="dry-run"' in html
    # old-db (carol's) and the template sit on node2: both would violate and migrate back.
    assert "old-db" in html
    assert "tpl-debian" in html
    assert "web-1" not in html.split("dry-run-vms")[1].split("</table>")[0]
    assert re.search(r'data-figure="violating">2<', html)
    assert "migrate from node2 to node1" in html
    assert people.carol.username in html.split('data-testid="dry-run-notify"')[1][:400]
    assert "Save in enforce mode" in html
    assert not Policy.objects.filter(name="pin-prod").exists()

    saved = officer.post("/policy/new/", {**FORM, "action": "save", "preview_token": _token(html)})
    assert saved.status_code == 302
    policy = Policy.objects.get(name="pin-prod")
    assert saved["Location"] == f"/policy/{policy.pk}/"
    assert (policy.mode, policy.version, policy.parameters["allowed_nodes"]) == (
        "enforce",
        1,
        ["node1"],
    )
    version = PolicyVersion.objects.get(policy=policy)
    assert version.comment == "keep prod on node1"
    assert version.changed_by == people.security


def test_save_without_or_with_a_stale_preview_shows_a_fresh_preview_instead(officer):
    missing = officer.post("/policy/new/", {**FORM, "action": "save"})
    assert missing.status_code == 200
    assert 'data-testid="dry-run"' in missing.content.decode()
    assert not Policy.objects.filter(name="pin-prod").exists()

    token = _token(officer.post("/policy/new/", {**FORM, "action": "preview"}).content.decode())
    # The document changed after the preview: the token does not cover it.
    edited = {**FORM, "mode": "audit", "action": "save"}
    answer = officer.post("/policy/new/", {**edited, "preview_token": token})
    assert answer.status_code == 200
    assert "changed since its preview" in answer.content.decode()
    assert not Policy.objects.filter(name="pin-prod").exists()


def test_edit_bumps_the_version_and_a_preview_made_before_another_save_is_stale(officer, records):
    url = f"/policy/{records.policy.pk}/edit/"
    form = {
        "name": "pin-web",
        "kind": "host_pinning",
        "mode": "audit",
        "scope_clusters": "pve-test",
        "parameters": "allowed_nodes: [node1, node2]",
    }
    page = officer.get(url).content.decode()
    assert "allowed_nodes:" in page
    assert 'value="pve-test"' in page
    token = _token(officer.post(url, {**form, "action": "preview"}).content.decode())
    saved = officer.post(url, {**form, "action": "save", "preview_token": token})
    assert saved.status_code == 302
    records.policy.refresh_from_db()
    assert (records.policy.version, records.policy.mode) == (2, "audit")
    # The same token again is based on version 1: refused, a new preview is shown.
    again = officer.post(url, {**form, "enabled": "on", "action": "save", "preview_token": token})
    assert again.status_code == 200
    records.policy.refresh_from_db()
    assert records.policy.version == 2
    assert not records.policy.enabled
    history = officer.get(f"/policy/{records.policy.pk}/").content.decode()
    assert "v2" in history
    assert "v1" in history


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"parameters": "allowed_nodes: [node9]"}, "parameters", "node9"),
        ({"scope_clusters": ""}, None, "scope"),
        ({"scope_clusters": "nowhere"}, "scope_clusters", "nowhere"),
        ({"parameters": "allowed_nodes: [node1]\nbogus: 1"}, "parameters", "bogus"),
        ({"name": "pin-web"}, "name", "already exists"),
    ],
)
def test_refusals_say_what_to_fix(officer, changes, field, message):
    answer = officer.post("/policy/new/", {**FORM, **changes, "action": "preview"})
    assert answer.status_code == 400
    form = answer.context["form"]
    errors = form.errors.get(field or "__all__", []) if field else form.non_field_errors()
    if field is None and not errors:
        errors = [e for errs in form.errors.values() for e in errs]
    assert any(message in error for error in errors), form.errors
    assert 'value="save"' not in answer.content.decode()


def test_contradicting_pinning_is_refused(officer, records):
    # records.policy pins pve-test to node1; a second pinning set without node1 contradicts.
    answer = officer.post(
        "/policy/new/", {**FORM, "parameters": "allowed_nodes: [node2]", "action": "preview"}
    )
    assert answer.status_code == 400
    assert "node" in answer.content.decode()
    assert not Policy.objects.filter(name="pin-prod").exists()
