"""Quota pages and API: who reads and who changes (200/403/404), audited changes, the
request form showing the team's use, and refusals through the form and the API."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from governance.approvals.models import Request, TeamQuota
from governance.audit.models import AuditEvent
from tests.governance.approvals.quota.conftest import limit

pytestmark = pytest.mark.django_db

API = "/api/approvals/quotas/"
REFUSAL = (
    "Team Ops would use 6 of 5 vCPU cores (this request: 2). "
    "Ask an admin to raise the quota or free capacity."
)


def test_readers_list_every_team_and_members_their_own(client, sized):
    limit(sized, sized.ops, max_vms=3, max_cores=8)
    url = reverse("approvals:quotas")
    for reader in (sized.admin, sized.security, sized.auditor):
        client.force_login(reader)
        page = client.get(url)
        assert page.status_code == 200
        assert "1 of 3" in page.content.decode()
        assert "4 of 8" in page.content.decode()
    client.force_login(sized.manager)  # manages Ops, not in Dev
    page = client.get(url).content.decode()
    assert "4 of 8" in page
    assert "Dev" not in page
    client.force_login(sized.carol)
    page = client.get(url).content.decode()
    assert "Dev" in page
    assert "Ops" not in page


def test_only_admins_change_a_quota_and_every_change_is_audited(client, sized):
    url = reverse("approvals:quota", kwargs={"slug": sized.ops.slug})
    limits = {"max_vms": "5", "max_cores": "16", "max_memory_mib": "", "max_disk_gib": "100"}

    for reader in (sized.auditor, sized.alice):  # may read (alice is in Ops), not change
        client.force_login(reader)
        assert client.get(url).status_code == 200
        assert 'name="max_cores"' not in client.get(url).content.decode()
        assert client.post(url, limits).status_code == 403
    client.force_login(sized.carol)  # not in Ops, no read right: invisible
    assert client.get(url).status_code == 404
    assert client.post(url, limits).status_code == 404
    assert not TeamQuota.objects.exists()

    client.force_login(sized.admin)
    assert client.post(url, {**limits, "max_cores": "-1"}).status_code == 400
    assert client.post(url, limits).status_code == 302
    quota = TeamQuota.objects.get(team=sized.ops)
    assert quota.limits() == {
        "max_vms": 5,
        "max_cores": 16,
        "max_memory_mib": None,
        "max_disk_gib": 100,
    }
    page = client.get(url).content.decode()
    assert "vCPU cores: no limit → 16" in page  # the change, from the audit log
    client.force_login(sized.alice)
    assert 'data-testid="quota-history"' not in client.get(url).content.decode()
    event = AuditEvent.objects.get(action="approvals.quota.set")
    assert event.actor == sized.admin
    assert event.after["max_cores"] == 16


def _form_url(scene):
    return (
        f"{reverse('approvals:new', kwargs={'kind': 'provision'})}"
        f"?cluster={scene.estate['cluster'].name}"
    )


def _two_cores_for_ops(sized, name: str) -> dict:
    """A provision's parameters, as the form and the API take them: 2 cores for Ops,
    which already owns 4."""
    return {
        "node": sized.estate["cluster"].nodes.get(name="node1").pk,
        "name": name,
        "cores": 2,
        "memory_mib": 2048,
        "disk_gib": 10,
        "storage": sized.approved.pk,
        "team": sized.ops.pk,
        "classification": "internal",
    }


def test_the_request_form_shows_the_teams_use_and_refuses_over_quota(client, sized):
    limit(sized, sized.ops, max_vms=3, max_cores=5)
    client.force_login(sized.alice)
    page = client.get(_form_url(sized)).content.decode()
    assert "Ops: 1 of 3 VMs; 4 of 5 vCPU cores; 4096 MiB of memory (no limit)" in page

    answer = client.post(
        _form_url(sized),
        {
            "cluster": sized.estate["cluster"].name,
            **_two_cores_for_ops(sized, "api-1"),
            "justification": "a new API node for the release",
            "idempotency_key": str(uuid.uuid4()),
        },
    )
    assert answer.status_code == 400
    assert REFUSAL in answer.content.decode()
    assert not Request.objects.exists()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def test_the_api_reads_quotas_by_team_and_only_admins_change_them(api, sized):
    limit(sized, sized.ops, max_cores=8)
    api.force_authenticate(sized.auditor)
    teams = {row["team"]: row for row in api.get(API).json()["results"]}
    assert set(teams) == {sized.ops.slug, sized.dev.slug}
    assert teams["ops"]["max_cores"] == 8
    assert teams["ops"]["owned"]["cores"] == 4
    assert teams["dev"]["max_cores"] is None
    assert api.patch(f"{API}ops/", {"max_cores": 4}, format="json").status_code == 403

    api.force_authenticate(sized.alice)  # a member reads her own team only
    assert [row["team"] for row in api.get(API).json()["results"]] == ["ops"]
    assert api.get(f"{API}dev/").status_code == 404
    assert api.patch(f"{API}ops/", {"max_cores": 99}, format="json").status_code == 403

    api.force_authenticate(sized.admin)
    bad = api.patch(f"{API}ops/", {"max_cores": -1}, format="json")
    assert bad.status_code == 400
    assert "max_cores" in bad.json()["error"]["fields"]
    changed = api.patch(f"{API}ops/", {"max_vms": 2}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["max_vms"], changed.json()["max_cores"]) == (2, 8)
    assert AuditEvent.objects.filter(action="approvals.quota.set").count() == 2


def test_an_api_submission_over_quota_is_refused_with_the_reason(api, sized):
    limit(sized, sized.ops, max_cores=5)
    api.force_authenticate(sized.alice)
    answer = api.post(
        "/api/approvals/requests/",
        {
            "kind": "provision",
            "cluster": sized.estate["cluster"].name,
            "parameters": _two_cores_for_ops(sized, "api-2"),
            "justification": "a new API node for the release",
            "idempotency_key": str(uuid.uuid4()),
        },
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["team"] == [REFUSAL]
    assert not Request.objects.exists()
