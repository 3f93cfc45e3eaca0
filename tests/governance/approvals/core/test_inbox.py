"""The approvers' inbox: pending requests whose current step the user may decide, oldest
first; never one the user already decided (until a change voids that decision), never
the user's own, never one whose current step names someone else, never a decided one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance.accounts.roles import Role
from governance.approvals.lists import request_inbox
from governance.approvals.services.decisions import request_approve, request_reject
from governance.approvals.services.requests import request_submit, request_update
from tests.factories import UserFactory
from tests.governance.approvals.core.conftest import chain_make, key

pytestmark = pytest.mark.django_db

MANAGER_STEP = {"name": "Manager", "approver_rule": "team_manager"}
SECURITY_STEP = {"name": "Security", "approver_rule": "role", "role": Role.SECURITY_OFFICER}


def _inbox(user) -> list[int]:
    return list(request_inbox(user=user).values_list("pk", flat=True))


def _submit(requester, vm, owner, *, hours_ago: int, kind: str = "ownership_transfer"):
    return request_submit(
        requester=requester,
        kind=kind,
        vm=vm,
        parameters={"owner": owner.pk},
        justification="hand over",
        idempotency_key=key(),
        now=timezone.now() - timedelta(hours=hours_ago),
    )


def test_the_inbox_lists_requests_whose_current_step_waits_for_me_oldest_first(people, owned):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    web, old = owned["web"], owned["old"]
    # Submitted newest first, so the order cannot come from the ids.
    newer = _submit(people.alice, web, people.bob, hours_ago=1)
    older = _submit(people.alice, web, people.carol, hours_ago=5)
    oldest = _submit(people.alice, web, people.bob, hours_ago=9)
    others = _submit(people.carol, old, people.other_manager, hours_ago=20)  # dev's manager decides

    assert _inbox(people.manager) == [oldest.pk, older.pk, newer.pk]
    assert _inbox(people.other_manager) == [others.pk]
    assert _inbox(people.security) == []  # step 2 is nobody's current step yet
    assert _inbox(people.alice) == []  # her own requests, and she approves nothing

    request_approve(actor=people.manager, request=older)
    request_reject(actor=people.manager, request=newer, comment="not now")

    assert _inbox(people.manager) == [oldest.pk]  # decided and rejected ones left
    assert _inbox(people.security) == [older.pk]  # its current step is now security's

    api = APIClient()
    api.force_authenticate(people.manager)
    assert [row["id"] for row in api.get("/api/approvals/requests/inbox/").json()] == [oldest.pk]


def test_my_own_request_never_waits_in_my_inbox(people, owned):
    mine = _submit(people.manager, owned["web"], people.bob, hours_ago=2)
    theirs = _submit(people.alice, owned["web"], people.bob, hours_ago=1)
    assert _inbox(people.manager) == [theirs.pk]
    assert mine.steps.get().approver_rule == "team_manager"  # it does name managers of ops
    assert _inbox(people.admin) == []  # a team-manager step of a team falls to its managers


def test_an_all_of_step_leaves_the_inbox_of_who_decided_only(people, owned):
    chain_make("ownership_transfer", {**SECURITY_STEP, "mode": "all_of", "required": 2})
    second = UserFactory(username="security2", roles=[Role.SECURITY_OFFICER])
    request = _submit(people.alice, owned["web"], people.bob, hours_ago=1)
    assert _inbox(people.security) == _inbox(second) == [request.pk]

    request_approve(actor=people.security, request=request)

    assert _inbox(people.security) == []
    assert _inbox(second) == [request.pk]


def test_a_voided_decision_brings_the_request_back(people, owned):
    request = _submit(people.alice, owned["web"], people.bob, hours_ago=1)
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)  # after: not this request's
    assert _inbox(people.manager) == [request.pk]
    request_approve(actor=people.manager, request=request)
    assert _inbox(people.manager) == []  # approved and executing

    pending = _submit(people.alice, owned["web"], people.carol, hours_ago=1)
    request_approve(actor=people.manager, request=pending)
    assert _inbox(people.manager) == []
    request_update(actor=people.alice, request=pending, parameters={"owner": people.bob.pk})
    assert _inbox(people.manager) == [pending.pk]
    assert _inbox(people.security) == []
