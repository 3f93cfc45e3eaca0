"""Every request state change is pushed live, after commit, to the requester and to every
approver of the chain, those still to decide included."""

from __future__ import annotations

import pytest

from governance.approvals.services.decisions import request_approve
from governance.approvals.services.requests import request_cancel, request_submit
from tests.governance.approvals.core.conftest import chain_make, key
from tests.governance.approvals.core.test_decisions import MANAGER_STEP, SECURITY_STEP

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(monkeypatch) -> list[tuple[int, str, dict]]:
    sent: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(
        "governance.approvals.execution.live.publish_to_user",
        lambda user_id, event, payload: sent.append((user_id, event, payload)),
    )
    return sent


def _transfer(people, owned):
    return request_submit(
        requester=people.alice,
        kind="ownership_transfer",
        vm=owned["web"],
        parameters={"owner": people.bob.pk},
        justification="bob runs it now",
        idempotency_key=key(),
    )


def _states(pushed, event="approvals.request"):
    return {(user, payload["state"]) for user, name, payload in pushed if name == event}


def test_a_cancel_reaches_the_requester_and_the_approvers_still_to_decide(
    people, owned, pushed, django_capture_on_commit_callbacks
):
    request = _transfer(people, owned)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request_cancel(actor=people.alice, request=request)
    assert pushed == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert _states(pushed) == {
        (people.alice.pk, "cancelled"),
        (people.manager.pk, "cancelled"),
    }
    assert all(p["request"] == request.pk and p["from"] == "pending" for _, _, p in pushed)


def test_approval_and_execution_states_reach_every_approver_of_the_chain(
    people, owned, pushed, django_capture_on_commit_callbacks
):
    chain_make("ownership_transfer", MANAGER_STEP, SECURITY_STEP)
    request = _transfer(people, owned)
    with django_capture_on_commit_callbacks(execute=True):
        request_approve(actor=people.manager, request=request, comment="ok", revision=1)
    assert _states(pushed) == set()  # still pending: the security step waits
    with django_capture_on_commit_callbacks(execute=True):
        request_approve(actor=people.security, request=request, comment="ok", revision=1)
    states = _states(pushed)
    for user in (people.alice, people.manager, people.security):
        assert (user.pk, "approved") in states
        assert (user.pk, "executing") in states
