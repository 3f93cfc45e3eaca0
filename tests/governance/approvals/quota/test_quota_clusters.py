"""Per-cluster quotas: a team's limits on one cluster count only what it owns and
reserves there and apply only to requests landing there, beside its limits for all
clusters; checked at submission, before execution and on ownership moves; set by admins
on the page and through the API, audited with the cluster."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from governance.approvals.forms import FORMS
from governance.approvals.models import ExecutionState, Request, TeamQuota
from governance.approvals.quota_usage import Size, team_usage
from governance.approvals.services.quota import quota_set
from governance.approvals.services.requests import request_submit
from governance.audit.models import AuditEvent
from governance.ownership.models import Ownership
from governance.ownership.services import ownership_assign
from governance.ownership.services_workflows import transfer_offer
from inventory.models import Node, Storage
from inventory.models.clusters import StorageClass
from tests.governance.approvals.execution.helpers import Driver, approved_request, execution_begin
from tests.governance.approvals.quota.conftest import provision
from tests.inventory.estate import make_cluster, vm_row

pytestmark = pytest.mark.django_db

ASK = "Ask an admin to raise the quota or free capacity."


@pytest.fixture
def two(sized):
    """``sized`` plus a second cluster ``pve-b`` (node1, approved local-lvm) where Ops
    owns one stopped 2-core guest."""
    now = timezone.now()
    other = make_cluster("pve-b")
    node = Node.objects.create(
        cluster=other, name="node1", status="online", first_seen=now, last_seen=now
    )
    Storage.objects.create(
        cluster=other,
        name="local-lvm",
        storage_class=StorageClass.APPROVED,
        first_seen=now,
        last_seen=now,
    )
    guest = vm_row(other, node, 101, now=now, status="stopped", maxcpu=2)
    guest.save()
    ownership_assign(
        actor=sized.admin, vm=guest, owner=sized.alice, team=sized.ops, reason="test owner"
    )
    sized.here, sized.other = sized.estate["cluster"], other
    return sized


def _provision_on(scene, cluster, **overrides) -> Request:
    return request_submit(
        requester=scene.alice,
        kind="provision",
        cluster=cluster,
        parameters=provision(scene, **overrides),
        justification="needed for the release",
        idempotency_key=uuid.uuid4().hex,
    )


def _refusal(call) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    return " ".join(caught.value.messages)


def test_use_on_a_cluster_counts_only_what_lives_or_lands_there(two):
    _provision_on(two, two.other, cores=3)
    assert team_usage(two.ops.pk, cluster_id=two.here.pk).owned.vms == 1
    on_b = team_usage(two.ops.pk, cluster_id=two.other.pk)
    assert (on_b.owned.vms, on_b.owned.cores) == (1, 2)
    assert on_b.reserved == Size(1, 3, 2048 * 1024**2, 10 * 1024**3)
    assert team_usage(two.ops.pk).total.vms == 3


def test_a_cluster_limit_refuses_only_requests_landing_on_its_cluster(two):
    quota_set(actor=two.admin, team=two.ops, cluster=two.here, limits={"max_vms": 1})

    refused = _refusal(lambda: _provision_on(two, two.here))
    assert refused == f"Team Ops would use 2 of 1 VMs on cluster pve-test (this request: 1). {ASK}"
    assert _provision_on(two, two.other).state == "pending"

    # The limit for all clusters counts every cluster: web, B's guest, B's open request.
    quota_set(actor=two.admin, team=two.ops, limits={"max_vms": 3})
    refused = _refusal(lambda: _provision_on(two, two.other))
    assert refused == f"Team Ops would use 4 of 3 VMs (this request: 1). {ASK}"
    assert Request.objects.count() == 1


def test_a_cluster_limit_lowered_after_approval_stops_the_execution(two):
    request = approved_request(
        kind="ownership_transfer", requester=two.alice, vm=two.web, team=two.ops, owner=two.carol.pk
    )
    request.parameters["team"] = two.dev.pk
    request.save(update_fields=["parameters"])
    # Dev's limit on B does not concern a guest on pve-test; its limit there does.
    quota_set(actor=two.admin, team=two.dev, cluster=two.other, limits={"max_vms": 0})
    quota_set(actor=two.admin, team=two.dev, cluster=two.here, limits={"max_cores": 3})

    execution = Driver([]).run(execution_begin(request))

    assert execution.state == ExecutionState.FAILED
    assert execution.error == (
        "Quota exceeded: Team Dev would use 4 of 3 vCPU cores on cluster pve-test "
        f"(this request: 4). {ASK}"
    )
    assert Ownership.objects.get(vm=two.web, until__isnull=True).team == two.ops


def test_an_ownership_move_respects_the_cluster_limit_of_the_guests_cluster(two):
    def offer():
        return transfer_offer(actor=two.alice, vm=two.web, to_user=two.carol, to_team=two.dev)

    quota_set(actor=two.admin, team=two.dev, cluster=two.here, limits={"max_vms": 0})
    refused = _refusal(offer)
    assert refused == f"Team Dev would use 1 of 0 VMs on cluster pve-test (this request: 1). {ASK}"

    # Lifted there, and Dev full on pve-b only: web lives on pve-test, so it may move.
    quota_set(actor=two.admin, team=two.dev, cluster=two.here, limits={"max_vms": None})
    quota_set(actor=two.admin, team=two.dev, cluster=two.other, limits={"max_vms": 0})
    assert offer().vm == two.web


def test_an_admin_sets_a_cluster_limit_on_the_page_audited_with_the_cluster(client, two):
    url = reverse("approvals:quota", kwargs={"slug": two.ops.slug})
    client.force_login(two.manager)
    assert client.post(url, {"cluster": "pve-b", "max_vms": "1"}).status_code == 403
    client.force_login(two.admin)
    answer = client.post(url, {"cluster": "pve-b", "max_vms": "3", "max_cores": "8"})
    assert answer.status_code == 302

    quota = TeamQuota.objects.get(team=two.ops, cluster=two.other)
    assert (quota.max_vms, quota.max_cores, quota.max_memory_mib) == (3, 8, None)
    assert not TeamQuota.objects.filter(team=two.ops, cluster=None).exists()
    event = AuditEvent.objects.get(action="approvals.quota.set")
    assert event.actor == two.admin
    assert event.after == {
        "team": two.ops.slug,
        "cluster": "pve-b",
        "max_vms": 3,
        "max_cores": 8,
        "max_memory_mib": None,
        "max_disk_gib": None,
    }
    page = client.get(url).content.decode()
    assert 'data-testid="quota-clusters"' in page
    assert "1 of 3" in page  # B's guest: 1 VM, 2 cores
    assert "2 of 8" in page
    editor = client.get(url, {"cluster": "pve-b"}).content.decode()
    assert 'value="8"' in editor


def test_the_api_lists_and_sets_cluster_limits_admins_only(two):
    api, url = APIClient(), f"/api/approvals/quotas/{two.ops.slug}/"
    api.force_authenticate(two.manager)
    assert api.patch(url, {"cluster": "pve-b", "max_vms": 9}, format="json").status_code == 403
    api.force_authenticate(two.admin)
    unknown = api.patch(url, {"cluster": "nowhere", "max_vms": 1}, format="json")
    assert unknown.status_code == 400
    assert "cluster" in unknown.json()["error"]["fields"]

    answer = api.patch(url, {"cluster": "pve-b", "max_cores": 8}, format="json")

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["max_cores"] is None  # the limit for all clusters is untouched
    [on_b] = body["clusters"]
    assert (on_b["cluster"], on_b["max_cores"], on_b["max_vms"]) == ("pve-b", 8, None)
    assert on_b["owned"]["cores"] == 2
    api.force_authenticate(two.alice)
    assert api.get(url).json()["clusters"][0]["cluster"] == "pve-b"
    assert AuditEvent.objects.get(action="approvals.quota.set").after["cluster"] == "pve-b"


def test_one_quota_per_team_for_all_clusters_and_per_cluster(two):
    quota_set(actor=two.admin, team=two.ops, limits={"max_vms": 5})
    quota_set(actor=two.admin, team=two.ops, cluster=two.other, limits={"max_vms": 2})
    quota_set(actor=two.admin, team=two.ops, cluster=two.other, limits={"max_vms": 4})
    assert TeamQuota.objects.filter(team=two.ops).count() == 2
    now = timezone.now()
    for cluster in (None, two.other):
        with pytest.raises(IntegrityError), transaction.atomic():
            TeamQuota.objects.create(team=two.ops, cluster=cluster, updated_at=now)


def test_the_request_form_shows_the_limits_of_the_cluster_it_lands_on(two):
    quota_set(actor=two.admin, team=two.ops, limits={"max_vms": 5})
    quota_set(actor=two.admin, team=two.ops, cluster=two.other, limits={"max_cores": 3})

    def help_on(cluster) -> str:
        return str(FORMS["provision"](user=two.alice, cluster=cluster).fields["team"].help_text)

    on_b = help_on(two.other)
    assert "Ops: 2 of 5 VMs" in on_b
    assert "on pve-b: 1 VMs (no limit); 2 of 3 vCPU cores" in on_b
    assert "on pve-b" not in help_on(two.here)
