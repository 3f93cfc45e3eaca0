"""The admins' chain editor: only admins, steps saved in order with one audit event, and
a request submitted afterwards needs exactly those steps."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from governance.approvals.models import ApprovalChain
from governance.approvals.services.requests import request_submit
from governance.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _steps(*rows: dict) -> dict:
    data = {
        "steps-TOTAL_FORMS": str(len(rows)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in {"mode": "any_of", "required": "1", **row}.items():
            data[f"steps-{index}-{key}"] = value
    return data


EXPORT_CHAIN = {
    "name": "Exports",
    "kind": "export",
    "enabled": "on",
    "priority": "10",
    "cross_cluster": "unknown",
    "expire_after_hours": "48",
    **_steps(
        {"name": "Team manager", "approver_rule": "team_manager"},
        {"name": "Security officer", "approver_rule": "role", "role": "security_officer"},
    ),
}


def test_chain_pages_are_for_admins_only(client, scene):
    for user in (scene.alice, scene.manager, scene.security, scene.auditor):
        client.force_login(user)
        assert client.get(reverse("approvals:chains")).status_code == 403
        assert client.get(reverse("approvals:chain-new")).status_code == 403
        assert client.post(reverse("approvals:chain-new"), EXPORT_CHAIN).status_code == 403
    assert not ApprovalChain.objects.exists()
    client.force_login(scene.admin)
    assert client.get(reverse("approvals:chains")).status_code == 200
    assert client.get(reverse("approvals:chain-new")).status_code == 200


def test_an_admin_builds_a_two_step_chain_that_new_requests_follow(client, scene):
    client.force_login(scene.admin)
    answer = client.post(reverse("approvals:chain-new"), EXPORT_CHAIN)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    chain = ApprovalChain.objects.get(name="Exports")
    assert [(s.position, s.name) for s in chain.steps.all()] == [
        (0, "Team manager"),
        (1, "Security officer"),
    ]
    assert AuditEvent.objects.filter(action="approvals.chain_saved").count() == 1
    request = request_submit(
        requester=scene.alice,
        kind="export",
        vm=scene.web,
        parameters={"storage": "usb-export", "available_days": 3},
        justification="a copy for the auditors",
        idempotency_key=str(uuid.uuid4()),
    )
    assert [(s.name, s.role) for s in request.steps.order_by("position")] == [
        ("Team manager", ""),
        ("Security officer", "security_officer"),
    ]
    client.force_login(scene.admin)
    page = client.get(reverse("approvals:chains")).content.decode()
    assert "Team manager → Security officer" in page


def test_a_role_step_without_its_role_is_refused(client, scene):
    client.force_login(scene.admin)
    bad = {**EXPORT_CHAIN, "steps-1-role": ""}
    answer = client.post(reverse("approvals:chain-new"), bad)
    assert answer.status_code == 400
    assert "Name the role whose holders approve." in answer.content.decode()
    assert not ApprovalChain.objects.exists()
