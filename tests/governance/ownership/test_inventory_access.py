"""The permission triple on inventory pages and API once ownership scopes VMs.

End users see the VMs they own or look after, managers their teams' VMs, admins,
security officers and auditors everything; a VM someone may not see answers 404 in
pages and API alike, and lists and search never show it.
"""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from governance.ownership.services import ownership_assign

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(people, estate):
    """web: alice owns, carol is custodian, team ops; old and template: unowned."""
    ownership_assign(
        actor=people.admin,
        vm=estate["web"],
        owner=people.alice,
        custodian=people.carol,
        team=people.ops,
        reason="test",
    )
    return estate


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _listed_names(user) -> set[str]:
    body = _api(user).get("/api/inventory/vms/").json()
    return {row["name"] for row in body["results"]}


@pytest.mark.parametrize("who", ["alice", "carol", "manager"])
def test_holders_and_the_team_manager_see_the_vm_everywhere(people, owned, who):
    user = getattr(people, who)
    web = owned["web"]
    assert _page(user).get(f"/inventory/vms/{web.pk}/").status_code == 200
    assert _api(user).get(f"/api/inventory/vms/{web.pk}/").status_code == 200
    assert _listed_names(user) == {"web-1"}
    page = _page(user).get("/inventory/vms/?q=web").content.decode()
    assert "web-1" in page
    residency = _api(user).get(f"/api/inventory/residency/?vm={web.pk}").json()["results"]
    assert len(residency) == 2


@pytest.mark.parametrize("who", ["bob", "other_manager"])
def test_others_get_404_and_empty_lists(people, owned, who):
    user = getattr(people, who)
    for vm in (owned["web"], owned["old"]):
        assert _page(user).get(f"/inventory/vms/{vm.pk}/").status_code == 404
        assert _api(user).get(f"/api/inventory/vms/{vm.pk}/").status_code == 404
    assert _listed_names(user) == set()
    assert "web-1" not in _page(user).get("/inventory/vms/?q=web").content.decode()
    assert _api(user).get("/api/inventory/residency/").json()["results"] == []
    assert _api(user).get("/api/inventory/copies/").json()["results"] == []


@pytest.mark.parametrize("who", ["admin", "auditor", "security"])
def test_estate_wide_roles_see_owned_and_unowned_vms(people, owned, who):
    user = getattr(people, who)
    for vm in (owned["web"], owned["old"], owned["template"]):
        assert _page(user).get(f"/inventory/vms/{vm.pk}/").status_code == 200
        assert _api(user).get(f"/api/inventory/vms/{vm.pk}/").status_code == 200
    assert _listed_names(user) == {"web-1", "old-db", "tpl-debian"}


def test_a_transfer_moves_visibility_with_the_vm(people, owned):
    web = owned["web"]
    ownership_assign(actor=people.admin, vm=web, owner=people.bob, custodian=None, reason="r")
    assert _api(people.alice).get(f"/api/inventory/vms/{web.pk}/").status_code == 404
    assert _api(people.bob).get(f"/api/inventory/vms/{web.pk}/").status_code == 200
    # Still in ops: the manager keeps seeing it.
    assert _api(people.manager).get(f"/api/inventory/vms/{web.pk}/").status_code == 200


def test_a_deactivated_owner_sees_nothing(people, owned):
    people.alice.is_active = False
    people.alice.save()
    client = APIClient()
    client.force_authenticate(people.alice)
    assert client.get(f"/api/inventory/vms/{owned['web'].pk}/").status_code in (401, 403, 404)


def test_anonymous_visitors_are_sent_to_sign_in(owned):
    assert Client().get(f"/inventory/vms/{owned['web'].pk}/").status_code == 302
    assert APIClient().get("/api/inventory/vms/").status_code in (401, 403)


def test_seeing_an_owned_vm_grants_no_inventory_writes(people, owned):
    # Allowed to view (200 above), not allowed to act: 403.
    response = _api(people.alice).post("/api/inventory/clusters/", {"name": "x"}, format="json")
    assert response.status_code == 403
