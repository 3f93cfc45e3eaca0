"""The ownership app's claims and transfers respect the receiving team's quota: refused
when offered or claimed, and again when a manager approves after the quota was lowered."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from governance.accounts.models import TeamMembership
from governance.ownership.models import Ownership
from governance.ownership.services_workflows import (
    claim_approve,
    claim_create,
    transfer_accept,
    transfer_approve,
    transfer_offer,
)
from tests.factories import UserFactory
from tests.governance.approvals.quota.conftest import limit

pytestmark = pytest.mark.django_db

ASK = "Ask an admin to raise the quota or free capacity."


@pytest.fixture
def dev_manager(sized):
    manager = UserFactory(username="devlead")
    TeamMembership.objects.create(team=sized.dev, user=manager, is_manager=True)
    return manager


def test_a_transfer_into_a_full_team_is_refused_when_offered_and_when_approved(sized, dev_manager):
    limit(sized, sized.dev, max_vms=0)
    with pytest.raises(ValidationError) as caught:
        transfer_offer(actor=sized.alice, vm=sized.web, to_user=sized.carol, to_team=sized.dev)
    assert caught.value.messages == [f"Team Dev would use 1 of 0 VMs (this request: 1). {ASK}"]

    limit(sized, sized.dev, max_vms=1)
    transfer = transfer_offer(
        actor=sized.alice, vm=sized.web, to_user=sized.carol, to_team=sized.dev
    )
    transfer_accept(actor=sized.carol, transfer=transfer)
    limit(sized, sized.dev, max_vms=1, max_cores=2)  # lowered meanwhile: web has 4 cores
    with pytest.raises(ValidationError) as caught:
        transfer_approve(actor=dev_manager, transfer=transfer)
    assert "Team Dev would use 4 of 2 vCPU cores (this request: 4)" in caught.value.messages[0]
    assert Ownership.objects.get(vm=sized.web, until__isnull=True).team == sized.ops

    limit(sized, sized.dev, max_cores=4)
    transfer_approve(actor=dev_manager, transfer=transfer)
    assert Ownership.objects.get(vm=sized.web, until__isnull=True).team == sized.dev


def test_a_claim_into_a_full_team_is_refused_when_made_and_when_approved(sized, dev_manager):
    old = sized.old
    old.maxcpu = 2
    old.save(update_fields=["maxcpu"])
    limit(sized, sized.dev, max_cores=1)
    with pytest.raises(ValidationError) as caught:
        claim_create(actor=sized.carol, vm=old, team=sized.dev)
    assert caught.value.messages == [
        f"Team Dev would use 2 of 1 vCPU cores (this request: 2). {ASK}"
    ]

    limit(sized, sized.dev, max_cores=2)
    claim = claim_create(actor=sized.carol, vm=old, team=sized.dev)
    limit(sized, sized.dev, max_cores=1)
    with pytest.raises(ValidationError):
        claim_approve(actor=dev_manager, claim=claim)
    assert not Ownership.objects.filter(vm=old, until__isnull=True, owner=sized.carol).exists()
