"""Submitting and deciding requests: chains, separation of duties, revisions, double
submits, already-decided requests, expiry and auto-approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from governance.accounts.roles import Role
from governance.approvals.models import (
    Approval,
    Execution,
    Request,
    RequestEvent,
    RequestState,
)
from governance.approvals.services.chains import approvals_needed
from governance.approvals.services.decisions import (
    AlreadyDecided,
    StaleRevision,
    request_approve,
    request_reject,
)
from governance.approvals.services.requests import (
    request_cancel,
    request_submit,
    request_update,
    requests_expire,
)
from governance.audit.models import AuditEvent
from governance.notifications.models import Notification
from tests.governance.approvals.core.conftest import chain_make, key, transfer

pytestmark = pytest.mark.django_db

SECURITY_STEP = {"name": "Security", "approver_rule": "role", "role": Role.SECURITY_OFFICER}
MANAGER_STEP = {"name": "Manager", "approver_rule": "team_manager"}


def test_the_team_manager_approves_and_the_execution_is_queued(
    people, owned, queued, django_capture_on_commit_callbacks
):
    request = transfer(people, owned)
    assert request.state == RequestState.PENDING
    assert [s.name for s in request.steps.all()] == ["Team manager"]
    assert Notification.objects.filter(user=people.manager, kind="approvals.pending").exists()

    with django_capture_on_commit_callbacks(execute=True):
        request_approve(actor=people.manager, request=request, comment="fine", revision=1)

    request.refresh_from_db()
    assert request.state == RequestState.EXECUTING
    execution = Execution.objects.get(request=request)
    assert [s.name for s in execution.steps.all()] == ["transfer"]
    assert queued == [execution.pk]
    assert AuditEvent.objects.filter(action="approvals.request.approve").count() == 1
    kinds = list(RequestEvent.objects.filter(request=request).values_list("kind", flat=True))
    assert kinds[:2] == ["submitted", "approved"]


def test_nobody_approves_their_own_request(people, owned):
    request = request_submit(
        requester=people.manager,
        kind="ownership_transfer",
        vm=owned["web"],
        parameters={"owner": people.bob.pk},
        idempotency_key=key(),
    )
    with pytest.raises(PermissionDenied, match="own request"):
        request_approve(actor=people.manager, request=request)
    # The database refuses it too, whatever code tries.
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(
            request=request,
            step=request.steps.get(),
            approver=people.manager,
            requester=people.manager,
            decision="approve",
            revision=1,
            at=timezone.now(),
        )
    assert request.approvals.count() == 0


def test_one_person_cannot_fill_two_steps(people, owned):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    people.manager.groups.add(*people.security.groups.filter(name=Role.SECURITY_OFFICER))
    request = transfer(people, owned)
    request_approve(actor=people.manager, request=request)

    with pytest.raises(PermissionDenied, match="already decided"):
        request_approve(actor=people.manager, request=request)

    request_approve(actor=people.security, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.EXECUTING
    assert sorted(a.approver.username for a in request.approvals.all()) == ["manager", "security"]


def test_approvers_must_match_the_current_step(people, owned):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    request = transfer(people, owned)
    # The security officer's step comes second; the other team's manager is not ops'.
    for outsider in (people.security, people.other_manager, people.bob):
        with pytest.raises(PermissionDenied, match="not an approver"):
            request_approve(actor=outsider, request=request)
    assert request.approvals.count() == 0


def test_an_all_of_step_needs_distinct_people(people, owned):
    from tests.factories import UserFactory

    second = UserFactory(username="security2", roles=[Role.SECURITY_OFFICER])
    chain_make("ownership_transfer", {**SECURITY_STEP, "mode": "all_of", "required": 2})
    request = transfer(people, owned)
    assert approvals_needed(request)[1][0].describe() == (
        "Security: 2 of the eligible approvers (holders of role security_officer)"
    )
    request_approve(actor=people.security, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    request_approve(actor=second, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.EXECUTING


def test_deciding_an_already_decided_request_says_so_and_records_nothing(people, owned):
    request = transfer(people, owned)
    request_reject(actor=people.manager, request=request, comment="not now")
    request.refresh_from_db()
    assert request.state == RequestState.REJECTED

    with pytest.raises(AlreadyDecided, match="already rejected"):
        request_approve(actor=people.admin, request=request)
    with pytest.raises(ValidationError, match="Say why"):
        request_reject(actor=people.admin, request=transfer(people, owned), comment=" ")
    assert Approval.objects.filter(request=request).count() == 1
    assert not Execution.objects.filter(request=request).exists()


def test_a_change_after_an_approval_voids_it(people, owned):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    request = transfer(people, owned)
    request_approve(actor=people.manager, request=request, revision=1)

    request_update(actor=people.alice, request=request, parameters={"owner": people.carol.pk})

    request.refresh_from_db()
    assert request.revision == 2
    assert request.approvals.get().voided_at is not None
    assert request.steps.filter(satisfied_at__isnull=False).count() == 0
    # The security step is not current any more: the manager must look again first.
    with pytest.raises(PermissionDenied, match="not an approver"):
        request_approve(actor=people.security, request=request)
    with pytest.raises(StaleRevision, match="revision 2"):
        request_approve(actor=people.manager, request=request, revision=1)
    request_approve(actor=people.manager, request=request, revision=2)
    request_approve(actor=people.security, request=request, revision=2)
    request.refresh_from_db()
    assert request.state == RequestState.EXECUTING
    assert request.approvals.filter(voided_at__isnull=True, revision=2).count() == 2


def test_only_the_requester_changes_a_pending_request(people, owned):
    request = transfer(people, owned)
    with pytest.raises(PermissionDenied):
        request_update(actor=people.manager, request=request, justification="mine now")
    request_cancel(actor=people.alice, request=request)
    with pytest.raises(ValidationError, match="no longer be changed"):
        request_update(actor=people.alice, request=request, justification="again")


def test_a_double_click_submit_creates_one_request(people, owned):
    same = key()
    kwargs = {
        "kind": "ownership_transfer",
        "vm": owned["web"],
        "parameters": {"owner": people.bob.pk},
        "idempotency_key": same,
    }
    first = request_submit(requester=people.alice, **kwargs)
    second = request_submit(requester=people.alice, **kwargs)
    assert first.pk == second.pk
    assert Request.objects.count() == 1
    with pytest.raises(ValidationError, match="already used"):
        request_submit(requester=people.bob, **kwargs)


def test_a_vm_the_requester_cannot_see_is_not_found(people, owned):
    with pytest.raises(Http404):
        request_submit(
            requester=people.carol,
            kind="snapshot_delete",
            vm=owned["web"],
            parameters={"snapshot": "s1"},
            idempotency_key=key(),
        )
    assert Request.objects.count() == 0


def test_an_expired_lease_is_refused(people, owned):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    with pytest.raises(ValidationError, match="in the past"):
        transfer(people, owned, lease_end=yesterday)


def test_requests_nobody_decides_expire(people, owned):
    request = transfer(people, owned)
    assert request.expires_at is not None
    assert requests_expire(now=request.expires_at - timedelta(seconds=1)) == 0
    assert requests_expire(now=request.expires_at + timedelta(seconds=1)) == 1
    request.refresh_from_db()
    assert request.state == RequestState.EXPIRED
    assert Notification.objects.filter(user=people.alice, kind="approvals.expired").exists()
    with pytest.raises(AlreadyDecided, match="already expired"):
        request_approve(actor=people.manager, request=request)


def test_below_the_thresholds_a_request_is_approved_at_once_and_the_requester_told(
    people, owned, queued, django_capture_on_commit_callbacks
):
    chain_make(
        "snapshot_delete",
        SECURITY_STEP,
        auto_approve=True,
        auto_max_classification="internal",
    )
    with django_capture_on_commit_callbacks(execute=True):
        request = request_submit(
            requester=people.alice,
            kind="snapshot_delete",
            vm=owned["web"],
            parameters={"snapshot": "s1"},
            idempotency_key=key(),
        )
    assert request.auto_approved
    assert request.state == RequestState.EXECUTING
    assert request.steps.count() == 0
    assert len(queued) == 1
    # The requester is told exactly as after a human approval; nobody is asked to decide.
    told = Notification.objects.filter(kind__startswith="approvals.")
    assert [(n.user, n.kind) for n in told] == [(people.alice, "approvals.approved")]
    assert told[0].subject == (
        f"Request #{request.pk} ({request.get_kind_display()}) was approved; "
        "its execution is queued"
    )
    assert "automatically" in told[0].body
    assert told[0].link.endswith(f"/{request.pk}/")


def test_sensitive_vms_need_the_sensitive_chain(people, owned):
    web = owned["web"]
    web.classification = "sensitive"
    web.save(update_fields=["classification"])
    chain_make(
        "snapshot_delete", SECURITY_STEP, auto_approve=True, auto_max_classification="internal"
    )
    chain_make(
        "snapshot_delete", MANAGER_STEP, SECURITY_STEP, classification="sensitive", priority=1
    )
    request = request_submit(
        requester=people.alice,
        kind="snapshot_delete",
        vm=web,
        parameters={"snapshot": "s1"},
        idempotency_key=key(),
    )
    assert request.state == RequestState.PENDING
    assert [s.name for s in request.steps.all()] == ["Manager", "Security"]


def test_the_vms_team_decides_a_transfer_not_the_receiving_team(people, owned):
    request = transfer(people, owned, team=people.dev.pk)
    assert request.team == people.ops
    with pytest.raises(PermissionDenied, match="not an approver"):
        request_approve(actor=people.other_manager, request=request)
    request_approve(actor=people.manager, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.EXECUTING
