"""A failed execution on the request page: its error and steps are shown, and only an
admin retries it from the failed step or gives up on it."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.approvals.execution.runner import execution_advance
from governance.approvals.models import Execution, ExecutionState, RequestState
from governance.approvals.services.decisions import request_approve
from governance.approvals.services.requests import request_submit

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
    client.post(url)
    failed.refresh_from_db()
    assert failed.state == RequestState.FAILED
    client.force_login(scene.admin)
    client.post(url)
    failed.refresh_from_db()
    assert failed.state == RequestState.CANCELLED
