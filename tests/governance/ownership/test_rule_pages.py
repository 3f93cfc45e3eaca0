"""Ownership rule pages: the dry run, refusing a rule that matches nothing, disabling."""

from __future__ import annotations

import pytest

from governance.ownership.models import OwnershipRule
from tests.governance.ownership.ui_helpers import client_for

pytestmark = pytest.mark.django_db


def _form(**fields) -> dict:
    return {"name": "web to ops", "priority": "10", "enabled": "on", "team": "ops", **fields}


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("auditor", 200), ("alice", 403)])
def test_rule_list_triple(people, owned, who, status):
    assert client_for(getattr(people, who)).get("/ownership/rules/").status_code == status


def test_only_admins_write_rules(people, owned):
    assert client_for(people.auditor).get("/ownership/rules/new/").status_code == 403
    assert client_for(people.manager).post("/ownership/rules/new/", _form()).status_code == 403
    assert not OwnershipRule.objects.exists()


def test_dry_run_shows_what_would_match_and_saves_nothing(people, owned):
    response = client_for(people.admin).post(
        "/ownership/rules/new/", _form(tag_pattern="we*", action="preview")
    )
    page = response.content.decode()

    assert response.status_code == 200
    assert 'data-matching="1"' in page  # web-1 carries the tag "web"
    assert "web-1" in page
    assert not OwnershipRule.objects.exists()


def test_a_rule_matching_nothing_is_refused_with_a_clear_message(people, owned):
    client = client_for(people.admin)
    preview = client.post("/ownership/rules/new/", _form(pool="nope", action="preview"))
    assert "matches no VM today" in preview.content.decode()

    response = client.post("/ownership/rules/new/", _form(pool="nope", action="save"))
    assert response.status_code == 200
    assert "matches no VM Steward knows" in response.content.decode()
    assert not OwnershipRule.objects.exists()

    meant = client.post(
        "/ownership/rules/new/", _form(pool="nope", allow_unmatched="on", action="save")
    )
    assert meant.status_code == 302
    assert OwnershipRule.objects.get().pool == "nope"


def test_bad_input_is_refused_by_field(people, owned):
    client = client_for(people.admin)
    no_condition = client.post("/ownership/rules/new/", _form(action="save"))
    assert "Give at least one condition" in no_condition.content.decode()
    bad_regex = client.post("/ownership/rules/new/", _form(name_regex="web-(", action="preview"))
    assert "Not a valid regular expression" in bad_regex.content.decode()
    assert not OwnershipRule.objects.exists()


def test_edit_refuses_conditions_that_match_nothing_and_disable_always_works(people, owned):
    client = client_for(people.admin)
    assert client.post("/ownership/rules/new/", _form(name_regex="^web-")).status_code == 302
    rule = OwnershipRule.objects.get()

    page = client.get(f"/ownership/rules/{rule.pk}/").content.decode()
    assert 'value="^web-"' in page
    refused = client.post(f"/ownership/rules/{rule.pk}/", _form(name_regex="^mail-"))
    assert "matches no VM Steward knows" in refused.content.decode()
    rule.refresh_from_db()
    assert rule.name_regex == "^web-"

    client.post(f"/ownership/rules/{rule.pk}/toggle/")
    rule.refresh_from_db()
    assert not rule.enabled
    assert "disabled" in client.get("/ownership/rules/").content.decode()
