"""What a step needs: any one of its eligible approvers (whoever decides first; the other
then cannot also decide that step), or N different eligible approvers out of more, and
the words the form preview, the request page and the API use for it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from governance.accounts.roles import Role
from governance.approvals.models import RequestState
from governance.approvals.services.chains import approvals_needed
from governance.approvals.services.decisions import AlreadyDecided, request_approve
from tests.factories import UserFactory
from tests.governance.approvals.core.conftest import chain_make, transfer

pytestmark = pytest.mark.django_db

SECURITY_STEP = {"name": "Security", "approver_rule": "role", "role": Role.SECURITY_OFFICER}
MANAGER_STEP = {"name": "Manager", "approver_rule": "team_manager"}


def _officers(people, count: int) -> list:
    extra = [
        UserFactory(username=f"officer{n}", roles=[Role.SECURITY_OFFICER]) for n in range(count - 1)
    ]
    return [people.security, *extra]


@pytest.mark.parametrize("first", [0, 1])
def test_any_one_of_two_eligible_approvers_suffices(people, owned, first):
    chain_make("ownership_transfer", SECURITY_STEP, MANAGER_STEP)
    officers = _officers(people, 2)
    deciding, other = officers[first], officers[1 - first]
    request = transfer(people, owned)

    request_approve(actor=deciding, request=request)

    step = request.steps.get(position=0)
    assert step.satisfied_at is not None
    # The step is decided: the other officer is no approver of the step now current.
    with pytest.raises(PermissionDenied, match="not an approver of step “Manager”"):
        request_approve(actor=other, request=request)
    request_approve(actor=people.manager, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.EXECUTING
    assert [a.approver for a in request.approvals.order_by("at", "id")] == [
        deciding,
        people.manager,
    ]
    with pytest.raises(AlreadyDecided):
        request_approve(actor=other, request=request)


def test_two_of_three_eligible_approvers_approve_the_step(people, owned):
    chain_make("ownership_transfer", {**SECURITY_STEP, "mode": "all_of", "required": 2})
    first, second, third = _officers(people, 3)
    request = transfer(people, owned)
    assert approvals_needed(request)[1][0].describe() == (
        "Security: 2 of the eligible approvers (holders of role security_officer)"
    )

    request_approve(actor=first, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    with pytest.raises(PermissionDenied, match="already decided"):
        request_approve(actor=first, request=request)  # one person counts once

    request_approve(actor=third, request=request)
    request.refresh_from_db()
    # Two of the three suffice: the second officer is not needed and cannot add a third.
    assert request.state == RequestState.EXECUTING
    with pytest.raises(AlreadyDecided):
        request_approve(actor=second, request=request)
    assert request.approvals.count() == 2


def test_the_page_and_the_api_say_n_of_the_eligible_approvers(client, people, owned):
    chain_make(
        "ownership_transfer",
        MANAGER_STEP,
        {**SECURITY_STEP, "name": "Two officers", "mode": "all_of", "required": 2},
    )
    request = transfer(people, owned)

    client.force_login(people.alice)
    page = client.get(reverse("approvals:request", kwargs={"pk": request.pk})).content.decode()
    assert "any one of the eligible approvers" in page
    assert "2 of the eligible approvers" in page
    assert "people" not in page.split('id="approvals-needed"')[1].split("</section>")[0]

    api = APIClient()
    api.force_authenticate(people.alice)
    steps = api.get(f"/api/approvals/requests/{request.pk}/").json()["steps"]
    assert [(s["mode"], s["required"], s["needs"]) for s in steps] == [
        ("any_of", 1, "any one of the eligible approvers"),
        ("all_of", 2, "2 of the eligible approvers"),
    ]
