"""Ownership pages: the permission triple, scoping, exports and bulk assignment."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.ownership.models import Ownership, OwnershipSource
from tests.governance.ownership.ui_helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 200), ("auditor", 200), ("security", 200), ("manager", 403), ("alice", 403)],
)
def test_fleet_dashboard_and_its_exports_are_for_readers(people, owned, who, status):
    client = client_for(getattr(people, who))
    assert client.get("/ownership/").status_code == status
    assert client.get("/ownership/export.csv").status_code == status
    assert client.get("/ownership/export.json").status_code == status


def test_anonymous_is_sent_to_sign_in(client):
    for url in ("/ownership/", "/ownership/mine/", "/ownership/vms/", "/ownership/export.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("who", "status"),
    [("manager", 200), ("admin", 200), ("auditor", 200), ("alice", 403), ("other_manager", 404)],
)
def test_team_page_triple(people, owned, who, status):
    client = client_for(getattr(people, who))
    assert client.get("/ownership/teams/ops/").status_code == status
    assert client.get("/ownership/export.json?team=ops").status_code == status
    assert client.get("/ownership/teams/no-such-team/").status_code == 404


def test_team_page_shows_the_team_only(people, owned):
    page = client_for(people.manager).get("/ownership/teams/ops/").content.decode()
    assert "web-1" not in page  # the lists show problems only; web has none
    data = client_for(people.manager).get("/ownership/export.json?team=ops").json()
    assert data["scope"] == {"kind": "team", "label": "Ops", "team": "ops"}
    assert {f["key"]: f["value"] for f in data["figures"]}["total"] == 1
    assert [h["key"] for h in data["by_owner"]] == ["alice"]


def test_team_index_sends_a_manager_of_one_team_to_it(people, owned):
    response = client_for(people.manager).get("/ownership/teams/")
    assert response.status_code == 302
    assert response["Location"] == "/ownership/teams/ops/"
    listing = client_for(people.admin).get("/ownership/teams/").content.decode()
    assert "/ownership/teams/ops/" in listing
    assert "/ownership/teams/dev/" in listing


def test_my_vms_counts_only_mine(people, owned):
    client = client_for(people.alice)
    assert client.get("/ownership/mine/").status_code == 200
    data = client.get("/ownership/export.json?mine=yes").json()
    assert {f["key"]: f["value"] for f in data["figures"]}["total"] == 1
    assert data["by_owner"][0]["key"] == "alice"


def test_exports_carry_the_same_numbers_with_links(people, owned):
    client = client_for(people.admin)
    data = client.get("/ownership/export.json").json()
    figures = {f["key"]: f for f in data["figures"]}
    assert figures["total"]["value"] == 3
    assert figures["unowned"]["value"] == 1
    assert figures["unowned"]["link"].endswith("/ownership/vms/?owned=no")
    response = client.get("/ownership/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    csv_figures = {r["key"]: int(r["value"]) for r in rows if r["section"] == "figures"}
    assert csv_figures == {k: f["value"] for k, f in figures.items()}
    assert [r["label"] for r in rows if r["section"] == "unowned_oldest"] == [
        f"pve-test/9000 {owned['template'].name}"
    ]


def test_csv_neutralises_formulas_in_names(people, owned):
    people.ops.name = "=HYPERLINK(1)"
    people.ops.save()
    body = client_for(people.admin).get("/ownership/export.csv").content.decode()
    assert "'=HYPERLINK(1)" in body
    assert ",=HYPERLINK" not in body


def test_ownership_list_shows_only_visible_vms(people, owned):
    alice = client_for(people.alice).get("/ownership/vms/").content.decode()
    assert "web-1" in alice
    assert owned["old"].name not in alice
    assert 'name="vm"' not in alice  # no bulk assignment for end users
    manager = client_for(people.manager).get("/ownership/vms/").content.decode()
    assert "web-1" in manager
    assert owned["old"].name not in manager
    admin = client_for(people.admin).get("/ownership/vms/?owned=no").content.decode()
    assert owned["template"].name in admin
    assert "web-1" not in admin
    assert 'name="vm"' in admin
    assert "(1 matching)" in admin


def test_bad_filters_answer_400(people, owned):
    assert client_for(people.admin).get("/ownership/vms/?lease=soonish").status_code == 400


def test_list_costs_the_same_queries_for_one_row_and_many(people, owned):
    client = client_for(people.admin)
    client.get("/ownership/vms/")
    counts = []
    for query in ("?q=web-1", ""):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/ownership/vms/{query}").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def _history(vm):
    return list(Ownership.objects.filter(vm=vm).order_by("since", "id"))


def test_bulk_assign_is_for_admins(people, owned):
    url = "/ownership/vms/assign/"
    data = {"assign-target": "all", "assign-owner": "bob", "assign-reason": "x"}
    assert client_for(people.alice).post(url, data).status_code == 403
    assert client_for(people.auditor).post(url, data).status_code == 403
    assert client_for(people.admin).get(url).status_code == 405
    assert Ownership.objects.filter(owner=people.bob).count() == 0


def test_bulk_assign_every_match_of_the_filter(people, owned):
    client = client_for(people.admin)
    response = client.post(
        "/ownership/vms/assign/?owned=no",
        {
            "assign-target": "all",
            "assign-owner": "bob",
            "assign-team": "ops",
            "assign-reason": "found in the audit",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/ownership/vms/?owned=no"
    assert "Assigned 1 VM." in response.content.decode()
    rows = _history(owned["template"])
    assert [(r.owner, r.team, r.source, r.until) for r in rows] == [
        (people.bob, people.ops, OwnershipSource.BULK, None)
    ]
    assert rows[0].set_by == people.admin
    # web and old kept their owners.
    assert _history(owned["web"])[-1].owner == people.alice


def test_bulk_assign_selected_rows_keeps_unfilled_fields(people, owned):
    client = client_for(people.admin)
    client.post(
        "/ownership/vms/assign/",
        {
            "assign-target": "selected",
            "vm": [owned["web"].pk],
            "assign-custodian": "bob",
            "assign-reason": "holiday cover",
        },
    )
    web = _history(owned["web"])
    assert len(web) == 2
    assert web[0].until is not None
    assert (web[1].owner, web[1].custodian, web[1].team) == (people.alice, people.bob, people.ops)


def test_bulk_assign_never_reaches_beyond_the_filter(people, owned):
    # "old" is not unowned: ticking it under ?owned=no changes nothing.
    client_for(people.admin).post(
        "/ownership/vms/assign/?owned=no",
        {
            "assign-target": "selected",
            "vm": [owned["old"].pk],
            "assign-owner": "bob",
            "assign-reason": "x",
        },
    )
    assert _history(owned["old"])[-1].owner == people.carol
    assert len(_history(owned["old"])) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"assign-target": "all", "assign-owner": "bob", "assign-reason": ""}, "Reason"),
        (
            {"assign-target": "all", "assign-owner": "nobody", "assign-reason": "x"},
            "There is no user",
        ),
        ({"assign-target": "all", "assign-reason": "x"}, "Name an owner"),
        (
            {"assign-target": "selected", "assign-owner": "bob", "assign-reason": "x"},
            "Select at least one VM",
        ),
    ],
)
def test_bulk_assign_bad_input_changes_nothing(people, owned, data, message):
    before = Ownership.objects.count()
    response = client_for(people.admin).post("/ownership/vms/assign/", data, follow=True)
    assert message in response.content.decode()
    assert Ownership.objects.count() == before


def test_bulk_assign_to_an_inactive_user_is_refused(people, owned):
    people.bob.is_active = False
    people.bob.save()
    before = Ownership.objects.count()
    response = client_for(people.admin).post(
        "/ownership/vms/assign/",
        {"assign-target": "all", "assign-owner": "bob", "assign-reason": "x"},
        follow=True,
    )
    assert "deactivated" in response.content.decode().lower()
    assert Ownership.objects.count() == before


def test_the_matching_count_is_capped(people, owned, monkeypatch):
    from governance.ownership.views import vms

    monkeypatch.setattr(vms, "MATCHING_CAP", 1)
    page = client_for(people.admin).get("/ownership/vms/").content.decode()
    assert "(more than 1 matching)" in page
    assert (
        "(1 matching)" in client_for(people.admin).get("/ownership/vms/?owned=no").content.decode()
    )


def test_list_marks_the_sorted_column_and_pages_with_a_cursor(people, owned, monkeypatch):
    monkeypatch.setattr("governance.ownership.views.vms.PAGE_SIZE", 1)
    page = client_for(people.admin).get("/ownership/vms/?sort=name").content.decode()
    assert 'aria-sort="ascending"' in page
    assert "sort=-name" in page  # clicking the sorted column flips it
    assert 'rel="next"' in page
    assert '<span aria-disabled="true">Previous</span>' in page
