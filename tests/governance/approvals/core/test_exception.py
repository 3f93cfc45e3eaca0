"""The ``exception`` kind: an approved request grants a policy exemption once, audited,
and never when the approver owns the VM."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.approvals.execution import runner
from governance.approvals.models import Execution, ExecutionState
from governance.approvals.services.decisions import request_approve
from governance.approvals.services.requests import request_submit
from governance.audit.models import AuditEvent
from governance.ownership.models import Ownership
from policy.models import Exemption, Policy
from tests.governance.approvals.core.conftest import key

pytestmark = pytest.mark.django_db


def _no_gateway(cluster_id: int):
    raise AssertionError("an exemption needs no Proxmox call")


@pytest.fixture
def policy(owned) -> Policy:
    return Policy.objects.create(
        name="pinning",
        kind="host_pinning",
        scope={"clusters": [owned["web"].cluster.name]},
        parameters={"allowed_nodes": ["node1"]},
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _approved(people, vm, policy, approver, django_capture_on_commit_callbacks) -> Execution:
    until = timezone.localdate() + timedelta(days=10)
    request = request_submit(
        requester=people.alice,
        kind="exception",
        vm=vm,
        parameters={"policy": policy.pk, "until": until.isoformat()},
        justification="the vendor needs node2 for a week",
        idempotency_key=key(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        request_approve(actor=approver, request=request, comment="ok", revision=1)
    return Execution.objects.get(request=request)


def _run(execution: Execution) -> Execution:
    for _ in range(5):
        if (
            runner.execution_advance(
                execution_id=execution.pk, gateway_factory=_no_gateway
            ).again_in
            is None
        ):
            break
    execution.refresh_from_db()
    return execution


def test_an_approved_exception_grants_one_audited_exemption(
    people, owned, policy, django_capture_on_commit_callbacks
):
    web = owned["web"]
    execution = _run(
        _approved(people, web, policy, people.manager, django_capture_on_commit_callbacks)
    )

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    exemption = Exemption.objects.get(vm=web, policy=policy)
    assert exemption.granted_by == people.manager
    assert exemption.request_id == execution.request_id
    assert exemption.until.date() == timezone.localdate() + timedelta(days=11)
    assert AuditEvent.objects.filter(action="policy.exemption.granted").count() == 1
    # Advancing again grants nothing more.
    runner.execution_advance(execution_id=execution.pk, gateway_factory=_no_gateway)
    assert Exemption.objects.count() == 1


def test_the_vms_owner_never_grants_its_exemption(
    people, owned, policy, django_capture_on_commit_callbacks
):
    web = owned["web"]
    # The manager owns the VM now; alice, its custodian, requests.
    Ownership.objects.filter(vm=web, until__isnull=True).update(
        owner=people.manager, custodian=people.alice
    )
    execution = _run(
        _approved(people, web, policy, people.manager, django_capture_on_commit_callbacks)
    )

    assert execution.state == ExecutionState.FAILED
    assert "own owner" in execution.error
    assert not Exemption.objects.exists()
