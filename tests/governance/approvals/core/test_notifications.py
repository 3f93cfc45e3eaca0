"""Who is told what about a request, as notification rows: the next approvers after a
step is approved, the approvers again after a change voided their approvals, the
requester on approval, rejection, execution success and failure (a retry's success is
not swallowed by the unread failure) and expiry; never twice the same unread thing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.accounts.roles import Role
from governance.approvals.models import Execution, ExecutionState, RequestState
from governance.approvals.services.decisions import request_approve, request_reject
from governance.approvals.services.executions import execution_retry
from governance.approvals.services.quota import quota_set
from governance.approvals.services.requests import request_update, requests_expire
from governance.notifications.models import Notification
from tests.factories import UserFactory
from tests.governance.approvals.core.conftest import chain_make, transfer
from tests.governance.approvals.execution.helpers import Driver

pytestmark = pytest.mark.django_db

MANAGER_STEP = {"name": "Manager", "approver_rule": "team_manager"}
SECURITY_STEP = {"name": "Security", "approver_rule": "role", "role": Role.SECURITY_OFFICER}


def _kinds(user) -> list[str]:
    """The kinds of ``user``'s approvals notifications (the estate's set-up adds others)."""
    rows = Notification.objects.filter(user=user, kind__startswith="approvals.")
    return sorted(rows.values_list("kind", flat=True))


def _read_all(user) -> None:
    Notification.objects.filter(user=user).update(read_at=timezone.now())


def test_the_next_step_is_told_once_step_one_is_approved(people, owned):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    second_officer = UserFactory(username="security2", roles=[Role.SECURITY_OFFICER])
    request = transfer(people, owned)
    assert _kinds(people.manager) == ["approvals.pending"]
    assert _kinds(people.security) == []  # not their step yet

    request_approve(actor=people.manager, request=request, revision=1)

    for officer in (people.security, second_officer):
        rows = Notification.objects.filter(user=officer, kind="approvals.pending")
        assert [row.body for row in rows] == ["Step: Security"]
    assert _kinds(people.manager) == ["approvals.pending"]  # not told again
    assert _kinds(people.alice) == ["approvals.decision"]

    request_approve(actor=people.security, request=request, revision=1)

    # The requester hears of the approval even with the step notice still unread.
    assert _kinds(people.alice) == ["approvals.approved", "approvals.decision"]
    approved = Notification.objects.get(user=people.alice, kind="approvals.approved")
    assert approved.link.endswith(f"/{request.pk}/")
    assert _kinds(second_officer) == ["approvals.pending"]


def test_a_change_that_voids_approvals_tells_the_approvers_again(people, owned):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    request = transfer(people, owned)
    request_approve(actor=people.manager, request=request, revision=1)
    _read_all(people.manager)
    pending_before = _kinds(people.security)

    request_update(actor=people.alice, request=request, parameters={"owner": people.carol.pk})

    voided = Notification.objects.get(
        user=people.manager, kind__startswith="approvals.", read_at__isnull=True
    )
    assert voided.kind == "approvals.voided"
    assert "decide again" in voided.subject
    assert "revision 2" in voided.body
    # Step one is current again: the security officer has nothing new to decide yet.
    assert _kinds(people.security) == pending_before

    # A second change before the manager decided again: nothing voided, one pending row.
    request_update(actor=people.alice, request=request, justification="really bob")
    unread = Notification.objects.filter(
        user=people.manager, kind__startswith="approvals.", read_at__isnull=True
    )
    assert sorted(unread.values_list("kind", flat=True)) == [
        "approvals.pending",
        "approvals.voided",
    ]


def test_a_rejection_reaches_the_requester_despite_an_unread_step_notice(people, owned):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    request = transfer(people, owned)
    request_approve(actor=people.manager, request=request)
    request_reject(actor=people.security, request=request, comment="no reason to move it")

    rejected = Notification.objects.get(user=people.alice, kind="approvals.rejected")
    assert "rejected by security" in rejected.subject
    assert rejected.body == "no reason to move it"
    assert _kinds(people.alice) == ["approvals.decision", "approvals.rejected"]


def test_the_requester_is_told_of_failure_and_of_the_retrys_success(people, owned):
    request = transfer(people, owned, team=people.dev.pk)
    request_approve(actor=people.manager, request=request)
    # The receiving team's quota drops to nothing after approval: the execution fails.
    quota_set(actor=people.admin, team=people.dev, limits={"max_vms": 0})
    execution = Execution.objects.get(request=request)

    Driver([]).run(execution)

    execution.refresh_from_db()
    assert execution.state == ExecutionState.FAILED
    failed = Notification.objects.get(user=people.alice, kind="approvals.failed")
    assert "Quota exceeded" in failed.body

    quota_set(actor=people.admin, team=people.dev, limits={"max_vms": None})
    execution_retry(actor=people.admin, execution=execution)
    Driver([]).run(execution)

    request.refresh_from_db()
    assert request.state == RequestState.SUCCEEDED
    assert _kinds(people.alice) == [
        "approvals.approved",
        "approvals.failed",
        "approvals.succeeded",
    ]


def test_expiry_tells_the_requester_once(people, owned):
    request = transfer(people, owned)
    later = request.expires_at + timedelta(seconds=1)
    assert requests_expire(now=later) == 1
    assert requests_expire(now=later) == 0
    request.refresh_from_db()
    assert request.state == RequestState.EXPIRED
    rows = Notification.objects.filter(user=people.alice, kind="approvals.expired")
    assert [row.subject for row in rows] == [
        f"Request #{request.pk} expired: nobody decided in time"
    ]
