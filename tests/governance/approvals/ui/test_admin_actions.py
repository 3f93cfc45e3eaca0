"""A failed execution on the request page and in the API: its error and steps are shown,
and only an admin retries it from the failed step or gives up on it, saying why."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from governance.approvals.execution.runner import execution_advance
from governance.approvals.models import Execution, ExecutionState, RequestState
from governance.approvals.services.decisions import request_approve
from governance.approvals.services.requests import request_submit
from governance.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed(scene):
    """A transfer to carol, approved, whose only step fails: carol left meanwhile."""
    request = request_submit(
        requester=scene.alice,
        kind="ownership_transfer",
        vm=scene.web,
        parameters={"owner": scene.carol.pk},
        justification="carol takes over the web guest",
        idempotency_key=str(uuid.uuid4()),
    )
    request_approve(actor=scene.manager, request=request, revision=request.revision)
    scene.carol.is_active = False
    scene.carol.save(update_fields=["is_active"])
    execution = Execution.objects.get(request=request)
    while execution_advance(execution_id=execution.pk, now=timezone.now()).again_in is not None:
        pass
    request.refresh_from_db()
    assert request.state == RequestState.FAILED
    return request


def test_the_page_shows_the_failure_and_offers_retry_to_admins_only(client, scene, failed):
    url = reverse("approvals:request", kwargs={"pk": failed.pk})
    client.force_login(scene.alice)
    page = client.get(url).content.decode()
    assert "the new owner no longer exists or is deactivated" in page
    assert "Retry execution" not in page
    client.force_login(scene.admin)
    assert "Retry execution" in client.get(url).content.decode()


def test_only_an_admin_retries(client, scene, failed):
    url = reverse("approvals:retry", kwargs={"pk": failed.pk})
    for user in (scene.alice, scene.manager):
        client.force_login(user)
        assert client.post(url).status_code == 403
    execution = Execution.objects.get(request=failed)
    assert execution.state == ExecutionState.FAILED
    client.force_login(scene.admin)
    assert client.post(url).status_code == 302
    execution.refresh_from_db()
    assert execution.state == ExecutionState.RUNNING
    failed.refresh_from_db()
    assert failed.state == RequestState.EXECUTING


def test_an_admin_gives_up_on_a_failed_execution_the_requester_cannot(client, scene, failed):
    url = reverse("approvals:cancel", kwargs={"pk": failed.pk})
    client.force_login(scene.alice)
    client.post(url, {"reason": "mine anyway"})
    failed.refresh_from_db()
    assert failed.state == RequestState.FAILED
    client.force_login(scene.admin)
    page = client.post(url, {"reason": "  "}, follow=True).content.decode()
    assert "Say why the execution is cancelled." in page
    failed.refresh_from_db()
    assert failed.state == RequestState.FAILED
    client.post(url, {"reason": "carol left; nobody takes the guest"})
    failed.refresh_from_db()
    assert failed.state == RequestState.CANCELLED


def _api_cancel(user, request, **body):
    api = APIClient()
    api.force_authenticate(user)
    return api.post(f"/api/approvals/requests/{request.pk}/cancel/", body, format="json")


def test_the_api_refuses_a_non_admin_the_execution_cancel(scene, failed):
    for user in (scene.alice, scene.manager):
        answer = _api_cancel(user, failed, reason="mine anyway")
        assert answer.status_code == 403, answer.json()
        assert "Only admins" in answer.json()["error"]["message"]
    assert _api_cancel(scene.carol, failed, reason="not mine").status_code == 404
    failed.refresh_from_db()
    assert failed.state == RequestState.FAILED
    assert not AuditEvent.objects.filter(action="approvals.execution.cancel_requested").exists()


def test_an_admin_cancels_a_failed_execution_through_the_api_with_a_reason(scene, failed):
    blank = _api_cancel(scene.admin, failed)
    assert blank.status_code == 400
    assert "reason" in blank.json()["error"]["fields"]
    failed.refresh_from_db()
    assert failed.state == RequestState.FAILED

    answer = _api_cancel(scene.admin, failed, reason="carol left; nobody takes the guest")

    assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == RequestState.CANCELLED
    execution = Execution.objects.get(request=failed)
    assert execution.state == ExecutionState.CANCELLED
    assert execution.cancel_reason == "carol left; nobody takes the guest"
    event = AuditEvent.objects.get(action="approvals.execution.cancel_requested")
    assert event.actor == scene.admin
    assert event.after["reason"] == "carol left; nobody takes the guest"
    again = _api_cancel(scene.admin, failed, reason="twice")
    assert again.status_code == 400
    assert "already" in again.json()["error"]["message"]
