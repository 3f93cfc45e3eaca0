"""Violation notices: one per person per reconcile cycle (owner, custodian, team managers),
never repeated about a guest while a notice about it is unread."""

from __future__ import annotations

import pytest
from django.urls import reverse

from governance.accounts.models import Team, TeamMembership
from governance.notifications.models import Notification
from governance.ownership.models import Ownership
from inventory.models import GuestDevice
from policy.models import Violation
from policy.services import policy_save, reconcile
from policy.services.notices import cycle_link
from tests.factories import UserFactory
from tests.inventory.estate import make_estate

pytestmark = pytest.mark.django_db

MEDIA = {
    "name": "media",
    "kind": "no_removable_media",
    "mode": "audit",
    "scope": {"clusters": ["pve-test"]},
    "parameters": {"check_disks": False, "check_backups": False},
}


@pytest.fixture
def estate():
    return make_estate()


def own(vm, owner, **fields) -> None:
    Ownership.objects.create(vm=vm, owner=owner, since=vm.first_seen, source="admin", **fields)


def device(vm, key: str) -> None:
    GuestDevice.objects.create(vm=vm, key=key, kind="usb", value="host=1234:5678")


def notices(username: str) -> list[Notification]:
    return list(
        Notification.objects.filter(user__username=username, kind="policy.violation").order_by("pk")
    )


def test_a_cycle_sends_one_notice_per_person_listing_their_guests(estate, client) -> None:
    alice, bob, carol = (UserFactory(username=n) for n in ("alice", "bob", "carol"))
    dave = UserFactory(username="dave", is_active=False)
    eve = UserFactory(username="eve")
    team = Team.objects.create(name="Ops", slug="ops")
    TeamMembership.objects.create(team=team, user=carol, is_manager=True)
    TeamMembership.objects.create(team=team, user=dave, is_manager=True)
    TeamMembership.objects.create(team=team, user=eve, is_manager=False)
    web, old = estate["web"], estate["old"]
    own(web, alice, custodian=bob, team=team)
    own(old, alice, team=team)
    device(old, "usb1")
    policy_save(actor=None, document=MEDIA)

    result = reconcile(trigger="test")

    assert {v.vm_id for v in result.record.opened} == {web.pk, old.pk}
    assert result.record.notified == 3
    (to_alice,) = notices("alice")
    (to_bob,) = notices("bob")
    (to_carol,) = notices("carol")
    assert notices("dave") == notices("eve") == []  # inactive manager, plain member
    detected = Violation.objects.get(vm=web).first_detected
    assert to_alice.subject == "Policy violations on 2 VMs"
    assert to_alice.link == to_carol.link == cycle_link(detected)
    assert [line.split(":")[0] for line in to_alice.body.splitlines()] == ["web-1", "old-db"]
    # Bob answers for one guest only: his notice is about that guest, as before.
    assert to_bob.link == reverse("inventory:vm", kwargs={"pk": web.pk})
    assert to_bob.subject.startswith("Policy violation: ")

    # The cycle link lists exactly that cycle's violations the reader may see.
    client.force_login(alice)
    page = client.get(to_alice.link)
    assert page.status_code == 200
    text = page.content.decode()
    assert all(word in text for word in ("web-1", "old-db", "usb0", "usb1"))
    device(web, "usb2")
    reconcile(trigger="test")
    later = client.get(to_alice.link).content.decode()
    assert "usb0" in later
    assert "usb2" not in later


def test_nobody_is_told_again_about_a_guest_while_a_notice_about_it_is_unread(estate) -> None:
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    web, old, template = estate["web"], estate["old"], estate["template"]
    own(web, alice)
    own(old, alice)
    own(template, bob)
    device(old, "usb1")
    policy_save(actor=None, document=MEDIA)
    reconcile(trigger="test")
    (cycle,) = notices("alice")
    assert notices("bob") == []

    # New violations on guests alice's unread cycle notice covers, and on bob's guest.
    device(web, "usb2")
    device(template, "usb3")
    second = reconcile(trigger="test")
    assert len(second.record.opened) == 2
    assert notices("alice") == [cycle]
    (to_bob,) = notices("bob")
    assert to_bob.link == reverse("inventory:vm", kwargs={"pk": template.pk})

    # Bob's unread per-guest notice keeps him from hearing about that guest again.
    device(template, "usb4")
    reconcile(trigger="test")
    assert notices("bob") == [to_bob]

    # Once read, the next new violation is news again: one guest, one per-guest notice.
    Notification.objects.filter(pk=cycle.pk).update(read_at=cycle.created_at)
    device(old, "usb5")
    reconcile(trigger="test")
    newest = notices("alice")[-1]
    assert newest.pk != cycle.pk
    assert newest.link == reverse("inventory:vm", kwargs={"pk": old.pk})
