"""The ownership section of the inventory VM page and the actions behind its buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.ownership.models import Claim, ClaimState, Ownership, Transfer, TransferState
from governance.ownership.panel import PANEL_QUERIES, vm_panel
from governance.ownership.services import lease_set
from governance.ownership.services_workflows import claim_create, transfer_accept, transfer_offer
from tests.governance.ownership.ui_helpers import client_for

pytestmark = pytest.mark.django_db


def _page(user, vm) -> str:
    response = client_for(user).get(f"/inventory/vms/{vm.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _section(page: str) -> str:
    start = page.index('id="ownership-section"')
    return page[start : page.index("</section>", start)]


def test_the_section_shows_holders_and_history(people, owned):
    web = owned["web"]
    lease_set(actor=people.admin, vm=web, lease_end=timezone.localdate() + timedelta(3), reason="x")

    section = _section(_page(people.alice, web))

    assert "alice" in section
    assert "Ops" in section
    assert "History" in section
    assert section.count("<tr>") == 1 + 2  # header row + two ownership periods
    assert ">Ask for a longer lease<" in section  # the owner may ask
    assert ">Offer to someone else<" in section
    assert ">Assign<" not in section
    assert ">Set classification<" not in section


def test_buttons_follow_the_viewer(people, owned):
    web = owned["web"]
    admin = _section(_page(people.admin, web))
    security = _section(_page(people.security, web))
    manager = _section(_page(people.manager, web))

    assert ">Assign<" in admin
    assert ">Set classification<" in admin
    assert ">Set classification<" in security
    assert ">Assign<" not in security
    assert ">Offer to someone else<" not in manager
    assert ">Set classification<" not in manager


def test_an_unowned_vm_offers_a_claim(people, owned):
    from governance.accounts.models import TeamMembership

    template = owned["template"]
    # Only members of a team can claim (for that team); admins see unowned VMs.
    assert ">Claim this VM<" not in _section(_page(people.admin, template))
    TeamMembership.objects.create(team=people.ops, user=people.admin)
    assert ">Claim this VM<" in _section(_page(people.admin, template))
    assert client_for(people.alice).get(f"/inventory/vms/{template.pk}/").status_code == 404


def test_the_section_costs_constant_queries(people, owned, django_assert_max_num_queries):
    web = owned["web"]
    for n in range(5):
        lease_set(
            actor=people.admin,
            vm=web,
            lease_end=timezone.localdate() + timedelta(n + 1),
            reason=f"r{n}",
        )
    people.alice.has_perm("ownership.add_ownership")  # permission caches: per request
    with django_assert_max_num_queries(PANEL_QUERIES):
        panel = vm_panel(user=people.alice, vm=web)
    assert len(panel.history) == 6  # the assignment and five lease changes


def test_claim_from_the_claim_page_then_the_manager_approves_in_the_inbox(people, owned):
    template = owned["template"]
    alice = client_for(people.alice)
    assert str(template.vmid) in alice.get("/ownership/claim/").content.decode()

    response = alice.post(
        f"/ownership/vms/{template.pk}/claim/",
        {"claim-team": "ops", "claim-reason": "my test box", "next": "/ownership/claim/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/ownership/claim/"
    claim = Claim.objects.get(vm=template)
    assert claim.claimant == people.alice
    assert claim.state == ClaimState.PENDING

    manager = client_for(people.manager)
    inbox = manager.get("/ownership/inbox/").content.decode()
    assert "my test box" in inbox
    manager.post(f"/ownership/claims/{claim.pk}/approve/", {"reason": "fine"})
    claim.refresh_from_db()
    assert claim.state == ClaimState.APPROVED
    assert Ownership.objects.get(vm=template, until__isnull=True).owner == people.alice


def test_a_claim_on_an_invisible_owned_vm_is_a_404_and_names_no_one(people, owned):
    response = client_for(people.bob).post(
        f"/ownership/vms/{owned['web'].pk}/claim/", {"claim-team": "ops"}
    )
    assert response.status_code == 404
    assert "alice" not in response.content.decode()
    assert not Claim.objects.exists()


def test_transfer_through_the_buttons(people, owned):
    web = owned["web"]
    alice = client_for(people.alice)
    alice.post(
        f"/ownership/vms/{web.pk}/offer/",
        {"offer-to_user": "bob", "offer-to_team": "ops", "offer-reason": "holiday"},
    )
    transfer = Transfer.objects.get(vm=web)
    assert transfer.state == TransferState.OFFERED

    bob = client_for(people.bob)
    assert "holiday" in bob.get("/ownership/inbox/").content.decode()
    # bob cannot see web yet, but the transfer offered to him is his to accept.
    bob.post(f"/ownership/transfers/{transfer.pk}/accept/")
    transfer.refresh_from_db()
    assert transfer.state == TransferState.ACCEPTED
    assert "Approve" in _section(_page(people.manager, web))

    client_for(people.manager).post(f"/ownership/transfers/{transfer.pk}/approve/")
    assert Ownership.objects.get(vm=web, until__isnull=True).owner == people.bob


def test_refused_moves_say_why_and_change_nothing(people, owned):
    web = owned["web"]
    response = client_for(people.alice).post(
        f"/ownership/vms/{web.pk}/offer/",
        {"offer-to_user": "alice", "offer-to_team": "ops"},
        follow=True,
    )
    assert "cannot transfer a VM to yourself" in response.content.decode()
    assert not Transfer.objects.exists()
    # Carol cannot see web: every action on it answers 404.
    carol = client_for(people.carol)
    for action in ("offer", "extend", "assign", "classify"):
        assert carol.post(f"/ownership/vms/{web.pk}/{action}/").status_code == 404


@pytest.mark.parametrize(("who", "status"), [("admin", 302), ("manager", 403), ("alice", 403)])
def test_assign_triple(people, owned, who, status):
    response = client_for(getattr(people, who)).post(
        f"/ownership/vms/{owned['web'].pk}/assign/",
        {"assign-owner": "bob", "assign-reason": "reorg"},
    )
    assert response.status_code == status
    owner = Ownership.objects.get(vm=owned["web"], until__isnull=True).owner
    assert owner == (people.bob if status == 302 else people.alice)


@pytest.mark.parametrize(
    ("who", "status"), [("admin", 302), ("security", 302), ("manager", 403), ("alice", 403)]
)
def test_classification_triple(people, owned, who, status):
    web = owned["web"]
    response = client_for(getattr(people, who)).post(
        f"/ownership/vms/{web.pk}/classify/",
        {"classify-classification": "sensitive", "classify-reason": "customer data"},
    )
    assert response.status_code == status
    web.refresh_from_db()
    assert (web.classification == "sensitive") == (status == 302)


def test_lease_extension_request_reaches_the_managers(people, owned):
    from governance.notifications.models import Notification

    web = owned["web"]
    lease_set(actor=people.admin, vm=web, lease_end=timezone.localdate() + timedelta(2), reason="x")
    until = timezone.localdate() + timedelta(30)
    client_for(people.alice).post(
        f"/ownership/vms/{web.pk}/extend/",
        {"extension-until": until.isoformat(), "extension-reason": "still testing"},
    )
    assert Notification.objects.filter(user=people.manager, kind="lease.extension_request").exists()


def test_inbox_count_in_the_navigation(people, owned):
    claim_create(actor=people.carol, vm=owned["template"], team=people.dev)
    transfer = transfer_offer(
        actor=people.alice, vm=owned["web"], to_user=people.bob, to_team=people.ops
    )
    other = client_for(people.other_manager).get("/ownership/inbox/").content.decode()
    assert 'data-inbox-count="1"' in other
    bob = client_for(people.bob).get("/").content.decode()
    assert 'data-inbox-count="1"' in bob
    transfer_accept(actor=people.bob, transfer=transfer)
    assert 'data-inbox-count="1"' in client_for(people.manager).get("/").content.decode()
    assert 'data-inbox-count="0"' in client_for(people.bob).get("/").content.decode()


def test_inbox_steps_are_permission_checked(people, owned):
    claim = claim_create(actor=people.carol, vm=owned["template"], team=people.dev)
    # alice can neither see nor decide carol's claim: 404, and it stays pending.
    assert (
        client_for(people.alice).post(f"/ownership/claims/{claim.pk}/approve/").status_code == 404
    )
    # carol may not approve her own claim: refused with a message.
    response = client_for(people.carol).post(f"/ownership/claims/{claim.pk}/approve/", follow=True)
    assert "cannot decide your own claim" in response.content.decode()
    claim.refresh_from_db()
    assert claim.state == ClaimState.PENDING
    assert client_for(people.carol).post(f"/ownership/claims/{claim.pk}/bogus/").status_code == 404
