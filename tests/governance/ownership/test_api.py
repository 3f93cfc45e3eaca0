"""Ownership API: the permission triple, history, assignment, claims and transfers."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from governance.ownership.models import Claim, Ownership

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("who", "status"), [("alice", 200), ("manager", 200), ("admin", 200), ("carol", 404)]
)
def test_vm_ownership_triple_and_history(people, owned, who, status):
    response = _api(getattr(people, who)).get(f"/api/ownership/vms/{owned['web'].pk}/")
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["current"]["owner"] == "alice"
        assert [row["source"] for row in body["history"]] == ["admin"]


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("manager", 403), ("carol", 404)])
def test_assign_triple(people, owned, who, status):
    response = _api(getattr(people, who)).post(
        f"/api/ownership/vms/{owned['web'].pk}/assign/", {"custodian": "bob", "reason": "cover"}
    )
    assert response.status_code == status
    rows = Ownership.objects.filter(vm=owned["web"]).order_by("since", "id")
    custodians = list(rows.values_list("custodian", flat=True))
    assert custodians == ([None, people.bob.pk] if status == 200 else [None])


def test_assign_to_an_inactive_user_answers_400_and_changes_nothing(people, owned):
    people.bob.is_active = False
    people.bob.save()
    response = _api(people.admin).post(
        f"/api/ownership/vms/{owned['web'].pk}/assign/", {"owner": "bob", "reason": "x"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert Ownership.objects.filter(vm=owned["web"]).count() == 1


def test_bulk_assign_by_filter_and_by_ids(people, owned):
    api = _api(people.admin)
    response = api.post(
        "/api/ownership/vms/assign-bulk/",
        {"filters": {"owned": "no"}, "owner": "carol", "team": "dev", "reason": "sweep"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"changed": 1}  # the template; web and old have owners
    assert (
        _api(people.manager)
        .post(
            "/api/ownership/vms/assign-bulk/",
            {"vms": [owned["web"].pk], "reason": "x"},
            format="json",
        )
        .status_code
        == 403
    )
    both = api.post(
        "/api/ownership/vms/assign-bulk/",
        {"vms": [1], "filters": {}, "owner": "bob", "reason": "x"},
        format="json",
    )
    assert both.status_code == 400


def test_dashboard_api_scopes(people, owned):
    assert _api(people.admin).get("/api/ownership/dashboard/").status_code == 200
    assert _api(people.alice).get("/api/ownership/dashboard/").status_code == 403
    assert _api(people.manager).get("/api/ownership/dashboard/?team=ops").status_code == 200
    assert _api(people.manager).get("/api/ownership/dashboard/?team=dev").status_code == 404
    mine = _api(people.alice).get("/api/ownership/dashboard/?mine=yes").json()
    assert {f["key"]: f["value"] for f in mine["figures"]}["total"] == 1


def test_claim_then_manager_approves(people, owned):
    template = owned["template"]
    # alice cannot see the unowned template, but may claim it by id for her team.
    created = _api(people.alice).post(
        "/api/ownership/claims/", {"vm": template.pk, "team": "ops", "reason": "mine"}
    )
    assert created.status_code == 201, created.json()
    claim_id = created.json()["id"]
    assert _api(people.alice).post(f"/api/ownership/claims/{claim_id}/approve/").status_code == 400
    assert _api(people.carol).post(f"/api/ownership/claims/{claim_id}/approve/").status_code == 404
    approved = _api(people.manager).post(f"/api/ownership/claims/{claim_id}/approve/")
    assert approved.status_code == 200
    assert approved.json()["state"] == "approved"
    assert Ownership.objects.get(vm=template, until__isnull=True).owner == people.alice
    # A claim on an owned VM the claimant can see is refused, naming no one.
    again = _api(people.manager).post("/api/ownership/claims/", {"vm": template.pk, "team": "ops"})
    assert again.status_code == 400
    assert "already has an owner" in str(again.json())
    assert "alice" not in str(again.json())


def test_a_claim_never_reveals_an_invisible_vm_or_its_owner(people, owned):
    """bob cannot see web (alice owns it): claiming it answers as for an id that
    does not exist; nothing is created."""
    unknown = _api(people.bob).post("/api/ownership/claims/", {"vm": 999999, "team": "ops"})
    hidden = _api(people.bob).post("/api/ownership/claims/", {"vm": owned["web"].pk, "team": "ops"})

    assert hidden.status_code == unknown.status_code == 404
    assert {**hidden.json()["error"], "request_id": ""} == {
        **unknown.json()["error"],
        "request_id": "",
    }
    assert "alice" not in hidden.content.decode()
    assert not Claim.objects.exists()


def test_only_claimable_vms_are_claimed(people, owned):
    """A pending claim makes a VM unclaimable: a second claimant who cannot see it
    gets the unknown-VM answer, not the first claimant's name."""
    template = owned["template"]
    first = _api(people.alice).post("/api/ownership/claims/", {"vm": template.pk, "team": "ops"})
    assert first.status_code == 201
    second = _api(people.carol).post("/api/ownership/claims/", {"vm": template.pk, "team": "dev"})
    assert second.status_code == 404
    assert Claim.objects.filter(vm=template).count() == 1


def test_transfer_offer_accept_approve(people, owned):
    web = owned["web"]
    to_self = _api(people.alice).post(
        "/api/ownership/transfers/", {"vm": web.pk, "to_user": "alice", "to_team": "ops"}
    )
    assert to_self.status_code == 400
    offer = _api(people.alice).post(
        "/api/ownership/transfers/", {"vm": web.pk, "to_user": "bob", "to_team": "ops"}
    )
    assert offer.status_code == 201, offer.json()
    pk = offer.json()["id"]
    assert _api(people.carol).post(f"/api/ownership/transfers/{pk}/accept/").status_code == 404
    assert _api(people.bob).post(f"/api/ownership/transfers/{pk}/accept/").status_code == 200
    assert _api(people.manager).post(f"/api/ownership/transfers/{pk}/approve/").status_code == 200
    assert Ownership.objects.get(vm=web, until__isnull=True).owner == people.bob
    assert Ownership.objects.filter(vm=web).count() == 2


def test_rules_are_for_readers(people, owned):
    assert _api(people.admin).get("/api/ownership/rules/").status_code == 200
    assert _api(people.alice).get("/api/ownership/rules/").json()["results"] == []
