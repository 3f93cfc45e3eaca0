"""Deciding from the request page: approvers approve or reject with a comment; the
requester, other users and a second click get a clear message and change nothing."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from governance.approvals.models import Approval, RequestState
from governance.approvals.services.requests import request_submit, request_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(scene):
    return request_submit(
        requester=scene.alice,
        kind="ownership_transfer",
        vm=scene.web,
        parameters={"owner": scene.carol.pk},
        justification="carol takes over the web guest",
        idempotency_key=str(uuid.uuid4()),
    )


def _decide(client, request, decision: str, **data):
    url = reverse(f"approvals:{decision}", kwargs={"pk": request.pk})
    return client.post(url, {"revision": request.revision, **data}, follow=True)


def _messages(answer) -> list[str]:
    return [str(m) for m in answer.context["messages"]]


def test_the_manager_approves_and_the_page_shows_the_decision(client, scene, pending):
    client.force_login(scene.manager)
    page = client.get(reverse("approvals:request", kwargs={"pk": pending.pk})).content.decode()
    assert f'action="/approvals/{pending.pk}/approve/"' in page
    answer = _decide(client, pending, "approve", comment="agreed with both")
    assert f"Approved request #{pending.pk}." in _messages(answer)
    pending.refresh_from_db()
    assert pending.state != RequestState.PENDING
    assert "agreed with both" in answer.content.decode()


def test_a_second_click_is_refused_with_a_message(client, scene, pending):
    client.force_login(scene.manager)
    _decide(client, pending, "approve")
    answer = _decide(client, pending, "approve")
    assert any("already" in message for message in _messages(answer))
    assert Approval.objects.filter(request=pending).count() == 1


def test_the_requester_cannot_approve_their_own_request(client, scene, pending):
    client.force_login(scene.alice)
    page = client.get(reverse("approvals:request", kwargs={"pk": pending.pk})).content.decode()
    assert "/approve/" not in page
    answer = _decide(client, pending, "approve")
    assert _messages(answer)
    assert not Approval.objects.filter(request=pending).exists()
    pending.refresh_from_db()
    assert pending.state == RequestState.PENDING


def test_someone_who_cannot_see_the_request_gets_404(client, scene, pending):
    client.force_login(scene.carol)
    answer = client.post(reverse("approvals:approve", kwargs={"pk": pending.pk}), {"revision": 1})
    assert answer.status_code == 404


def test_rejecting_needs_a_comment(client, scene, pending):
    client.force_login(scene.manager)
    answer = _decide(client, pending, "reject")
    assert _messages(answer)
    pending.refresh_from_db()
    assert pending.state == RequestState.PENDING
    answer = _decide(client, pending, "reject", comment="carol is leaving too")
    pending.refresh_from_db()
    assert pending.state == RequestState.REJECTED


def test_approving_a_revision_that_changed_meanwhile_is_refused(client, scene, pending):
    opened_at = pending.revision
    request_update(
        actor=scene.alice,
        request=pending,
        parameters={"owner": scene.manager.pk},
    )
    client.force_login(scene.manager)
    answer = client.post(
        reverse("approvals:approve", kwargs={"pk": pending.pk}),
        {"revision": opened_at},
        follow=True,
    )
    assert any("changed since you opened it" in message for message in _messages(answer))
    assert not Approval.objects.filter(request=pending).exists()
