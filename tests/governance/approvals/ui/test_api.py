"""/api/approvals/requests: the permission triple, submission with the page's validation,
the inbox and decisions, in the API's one error shape."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from governance.approvals.models import Request, RequestState

pytestmark = pytest.mark.django_db

BASE = "/api/approvals/requests/"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _submit(api, scene, **overrides):
    body = {
        "kind": "migrate",
        "vm": scene.web.pk,
        "parameters": {"target_node": scene.node2.pk, "online": True},
        "justification": "drain node1 for maintenance",
        "idempotency_key": str(uuid.uuid4()),
        **overrides,
    }
    return api.post(BASE, body, format="json")


def test_submit_and_read_triple(api, scene):
    api.force_authenticate(scene.alice)
    created = _submit(api, scene)
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["parameters"] == {"target_node": "node2", "online": True}
    assert created.json()["steps"][0]["name"] == "Team manager"
    assert api.get(f"{BASE}{pk}/").status_code == 200
    assert api.get(f"{BASE}{pk}/timeline/").json()[0]["kind"] == "submitted"
    api.force_authenticate(scene.manager)
    assert api.get(f"{BASE}{pk}/").status_code == 200
    api.force_authenticate(scene.carol)
    assert api.get(f"{BASE}{pk}/").status_code == 404
    assert api.get(f"{BASE}{pk}/timeline/").status_code == 404
    assert pk not in [row["id"] for row in api.get(BASE).json()["results"]]


def test_a_vm_the_user_cannot_see_answers_404(api, scene):
    api.force_authenticate(scene.carol)
    assert _submit(api, scene).status_code == 404
    assert not Request.objects.exists()


def test_bad_parameters_answer_400_in_the_one_error_shape(api, scene):
    api.force_authenticate(scene.alice)
    answer = _submit(api, scene, parameters={"target_node": 999999})
    assert answer.status_code == 400
    body = answer.json()["error"]
    assert "target_node" in body["fields"]
    assert not Request.objects.exists()


def test_double_submit_returns_the_same_request(api, scene):
    api.force_authenticate(scene.alice)
    key = str(uuid.uuid4())
    first = _submit(api, scene, idempotency_key=key)
    second = _submit(api, scene, idempotency_key=key)
    assert first.json()["id"] == second.json()["id"]
    assert Request.objects.count() == 1


def test_inbox_and_decisions(api, scene):
    api.force_authenticate(scene.alice)
    pk = _submit(api, scene).json()["id"]
    assert api.get(f"{BASE}inbox/").json() == []
    own = api.post(f"{BASE}{pk}/approve/", {"revision": 1}, format="json")
    assert own.status_code in (400, 403)
    api.force_authenticate(scene.manager)
    assert [row["id"] for row in api.get(f"{BASE}inbox/").json()] == [pk]
    rejected = api.post(f"{BASE}{pk}/reject/", {"revision": 1}, format="json")
    assert rejected.status_code == 400
    rejected = api.post(
        f"{BASE}{pk}/reject/", {"revision": 1, "comment": "not this week"}, format="json"
    )
    assert rejected.status_code == 200
    assert rejected.json()["state"] == RequestState.REJECTED
    again = api.post(f"{BASE}{pk}/approve/", {"revision": 1}, format="json")
    assert again.status_code == 400
    assert "already" in again.json()["error"]["message"]


def test_the_requester_cancels(api, scene):
    api.force_authenticate(scene.alice)
    pk = _submit(api, scene).json()["id"]
    answer = api.post(f"{BASE}{pk}/cancel/")
    assert answer.status_code == 200
    assert answer.json()["state"] == RequestState.CANCELLED
