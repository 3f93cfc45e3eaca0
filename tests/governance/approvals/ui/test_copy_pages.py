"""The export and clone request pages: the export form explains both methods and that a
copy to another cluster leaves the VM running; a template of a sensitive VM is refused on the
form, naming the policy, and nothing is stored."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.approvals.models import Request
from inventory.models import VirtualMachine
from policy.models import Policy

pytestmark = pytest.mark.django_db


def test_the_export_form_offers_both_methods_and_says_the_vm_keeps_running(client, scene):
    client.force_login(scene.alice)
    page = client.get(f"{reverse('approvals:new', kwargs={'kind': 'export'})}?vm={scene.web.pk}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Backup to an export storage of this cluster" in text
    assert "Copy to another registered cluster" in text
    assert "the VM keeps running; a full clone is made" in text
    assert "locked" not in text


def test_a_template_of_a_sensitive_vm_is_refused_on_the_form(client, scene):
    now = timezone.now()
    Policy.objects.create(
        name="No templates of sensitive data",
        kind="copy_limits",
        scope={"classifications": ["sensitive"]},
        parameters={"no_templates": True},
        created_at=now,
        updated_at=now,
    )
    VirtualMachine.objects.filter(pk=scene.web.pk).update(classification="sensitive")
    client.force_login(scene.alice)
    answer = client.post(
        f"{reverse('approvals:new', kwargs={'kind': 'clone'})}?vm={scene.web.pk}",
        {
            "vm": scene.web.pk,
            "name": "golden",
            "target_node": scene.web.node_id,
            "full": "on",
            "template": "on",
            "justification": "a golden image for the new web tier",
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert answer.status_code == 400
    text = answer.content.decode()
    assert "No template may be made from this VM." in text
    assert "Policy &quot;No templates of sensitive data&quot;" in text
    assert not Request.objects.exists()
