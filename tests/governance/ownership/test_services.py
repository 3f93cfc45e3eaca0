"""Assignment (single, bulk, at birth), leases, classification and deactivation keep a
complete, append-only history; bad input changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.audit.models import AuditEvent
from governance.notifications.models import Notification
from governance.ownership.models import Ownership, OwnershipSource
from governance.ownership.selectors import ownership_history, ownership_of, vms_owner_left
from governance.ownership.services import (
    classification_set,
    lease_extend_request,
    lease_set,
    ownership_assign,
    ownership_assign_bulk,
    ownership_at_birth,
    ownership_on_user_deactivated,
)
from inventory.models import VirtualMachine

pytestmark = pytest.mark.django_db


def _history(vm) -> list[tuple]:
    return [
        (row.source, row.owner_id, row.custodian_id, row.team_id, row.until is None)
        for row in ownership_history(vm=vm)
    ]


def test_assignment_closes_the_current_row_and_opens_the_next(people, estate):
    web = estate["web"]
    ownership_assign(actor=people.admin, vm=web, owner=people.alice, team=people.ops, reason="r1")
    ownership_assign(actor=people.admin, vm=web, custodian=people.bob, reason="r2")

    rows = list(ownership_history(vm=web))
    assert [(r.owner, r.custodian, r.team, r.reason) for r in rows] == [
        (people.alice, people.bob, people.ops, "r2"),  # owner and team carried over
        (people.alice, None, people.ops, "r1"),
    ]
    assert rows[0].until is None
    assert rows[1].until == rows[0].since
    assert rows[0].set_by == people.admin
    assert AuditEvent.objects.filter(action="ownership.admin", target_id=str(web.pk)).count() == 2
    assert Notification.objects.filter(user=people.bob, kind="ownership.assigned").exists()


def test_an_assignment_that_changes_nothing_writes_nothing(people, estate):
    web = estate["web"]
    first = ownership_assign(actor=people.admin, vm=web, owner=people.alice, reason="r")
    again = ownership_assign(actor=people.admin, vm=web, owner=people.alice, reason="r")
    assert again == first
    assert Ownership.objects.filter(vm=web).count() == 1


@pytest.mark.parametrize("field", ["owner", "custodian"])
def test_assigning_to_a_deactivated_user_is_refused(people, estate, field):
    people.carol.is_active = False
    people.carol.save()
    with pytest.raises(ValidationError) as error:
        ownership_assign(actor=people.admin, vm=estate["web"], reason="r", **{field: people.carol})
    assert "carol is deactivated" in str(error.value)
    assert not Ownership.objects.exists()


def test_a_reason_is_required_and_gone_vms_are_frozen(people, estate):
    with pytest.raises(ValidationError, match="Say why"):
        ownership_assign(actor=people.admin, vm=estate["web"], owner=people.alice, reason=" ")
    VirtualMachine.objects.filter(pk=estate["old"].pk).update(gone_since=timezone.now())
    with pytest.raises(ValidationError, match="no longer exists"):
        ownership_assign(actor=people.admin, vm=estate["old"], owner=people.alice, reason="r")
    assert not Ownership.objects.exists()


def test_bulk_assignment_keeps_each_vms_history(people, estate):
    web, old = estate["web"], estate["old"]
    ownership_assign(
        actor=people.admin, vm=web, owner=people.bob, custodian=people.carol, reason="r"
    )

    changed = ownership_assign_bulk(
        actor=people.admin,
        vms_qs=VirtualMachine.objects.filter(pk__in=[web.pk, old.pk]),
        owner=people.alice,
        team=people.ops,
        reason="cleanup",
    )

    assert changed == 2
    assert _history(web) == [
        (OwnershipSource.BULK, people.alice.pk, people.carol.pk, people.ops.pk, True),
        (OwnershipSource.ADMIN, people.bob.pk, people.carol.pk, None, False),
    ]
    assert _history(old) == [(OwnershipSource.BULK, people.alice.pk, None, people.ops.pk, True)]
    event = AuditEvent.objects.get(action="ownership.bulk")
    assert event.after["vms"] == sorted([web.pk, old.pk])
    # One notification for the batch, not one per VM.
    assert Notification.objects.filter(user=people.alice).count() == 1
    # Rerunning changes nothing.
    assert (
        ownership_assign_bulk(
            actor=people.admin,
            vms_qs=VirtualMachine.objects.filter(pk__in=[web.pk, old.pk]),
            owner=people.alice,
            team=people.ops,
            reason="cleanup",
        )
        == 0
    )


def test_bulk_assignment_to_a_deactivated_user_changes_nothing(people, estate):
    people.alice.is_active = False
    people.alice.save()
    with pytest.raises(ValidationError, match="alice is deactivated"):
        ownership_assign_bulk(
            actor=people.admin, vms_qs=VirtualMachine.objects.all(), owner=people.alice, reason="r"
        )
    assert not Ownership.objects.exists()


def test_a_vm_created_through_steward_is_owned_from_birth(people, estate):
    row = ownership_at_birth(vm=estate["web"], requester=people.alice, team=people.ops)
    assert (row.source, row.owner, row.team, row.set_by) == (
        OwnershipSource.BIRTH,
        people.alice,
        people.ops,
        None,
    )
    with pytest.raises(ValidationError, match="already has an ownership record"):
        ownership_at_birth(vm=estate["web"], requester=people.bob, team=people.ops)


def test_deactivating_an_owner_records_it_and_shows_the_vm_as_owner_left(people, estate):
    web, old = estate["web"], estate["old"]
    ownership_assign(actor=people.admin, vm=web, owner=people.alice, team=people.ops, reason="r")
    ownership_assign(
        actor=people.admin, vm=old, owner=people.bob, custodian=people.alice, reason="r"
    )

    people.alice.is_active = False
    people.alice.save()  # the signal runs ownership_on_user_deactivated

    assert _history(web)[0] == (
        OwnershipSource.DEACTIVATION,
        people.alice.pk,
        None,
        people.ops.pk,
        True,
    )
    assert _history(old)[0] == (OwnershipSource.DEACTIVATION, people.bob.pk, None, None, True)
    assert list(vms_owner_left(user=people.admin)) == [web]
    assert Notification.objects.filter(user=people.manager, kind="ownership.owner_left").exists()
    # Saving the inactive user again, or running the service again, adds nothing.
    people.alice.save()
    assert ownership_on_user_deactivated(user_id=people.alice.pk) == 0
    assert Ownership.objects.filter(vm=web).count() == 2


def test_lease_set_and_extension_request(people, estate):
    web = estate["web"]
    end = timezone.localdate() + timedelta(days=10)
    ownership_assign(actor=people.admin, vm=web, owner=people.alice, team=people.ops, reason="r")
    lease_set(actor=people.admin, vm=web, lease_end=end, reason="project ends")
    assert ownership_of(vm=web).lease_end == end
    assert ownership_of(vm=web).source == OwnershipSource.LEASE

    lease_extend_request(actor=people.alice, vm=web, until=end + timedelta(days=30), reason="more")
    request = Notification.objects.get(user=people.manager, kind="lease.extension_request")
    assert "alice" in request.subject
    assert ownership_of(vm=web).lease_end == end  # a request changes nothing by itself

    with pytest.raises(ValidationError, match="after the current end"):
        lease_extend_request(actor=people.alice, vm=web, until=end, reason="more")
    with pytest.raises(ValidationError, match="Only the owner or custodian"):
        lease_extend_request(actor=people.bob, vm=web, until=end + timedelta(days=1), reason="x")
    with pytest.raises(ValidationError, match="in the past"):
        lease_set(actor=people.admin, vm=web, lease_end=end - timedelta(days=30), reason="r")


def test_classification_is_set_with_an_audited_reason(people, estate):
    web = classification_set(
        actor=people.admin, vm=estate["web"], classification="sensitive", reason="customer data"
    )
    assert VirtualMachine.objects.get(pk=web.pk).classification == "sensitive"
    event = AuditEvent.objects.get(action="vm.classification_set")
    assert (event.before, event.after["classification"]) == (
        {"classification": "internal"},
        "sensitive",
    )
    with pytest.raises(ValidationError, match="Choose one of"):
        classification_set(actor=people.admin, vm=web, classification="secret", reason="r")
