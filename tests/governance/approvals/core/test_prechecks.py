"""Pre-submission checks against policy: forbidden nodes, storage classes, copy limits and
expired leases are refused on the parameter concerned, and nothing is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from governance.approvals.models import Request
from governance.approvals.services.requests import request_submit
from governance.ownership.models import Ownership
from inventory.models import HAResource, Storage, VirtualMachine
from inventory.models.clusters import StorageClass
from policy.models import Policy
from tests.governance.approvals.core.conftest import key

pytestmark = pytest.mark.django_db


def _policy(kind: str, scope: dict, parameters: dict) -> Policy:
    return Policy.objects.create(
        name=f"{kind}-{key()[:6]}",
        kind=kind,
        scope=scope,
        parameters=parameters,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _submit(people, kind, parameters, vm=None, cluster=None):
    return request_submit(
        requester=people.alice,
        kind=kind,
        vm=vm,
        cluster=cluster,
        parameters=parameters,
        justification="needed for the release",
        idempotency_key=key(),
    )


def _refused(field: str, call) -> str:
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    assert Request.objects.count() == 0
    return " ".join(caught.value.message_dict[field])


def test_migration_to_a_node_a_pinning_policy_forbids_is_refused(people, owned):
    web = owned["web"]
    _policy("host_pinning", {"clusters": [web.cluster.name]}, {"allowed_nodes": ["node1"]})
    message = _refused(
        "target_node", lambda: _submit(people, "migrate", {"target_node": "node2"}, vm=web)
    )
    assert "outside the allowed nodes node1" in message


def test_pinning_of_another_scope_does_not_refuse(people, owned):
    web = owned["web"]
    _policy("host_pinning", {"classifications": ["restricted"]}, {"allowed_nodes": ["node1"]})
    request = _submit(people, "migrate", {"target_node": "node2"}, vm=web)
    assert request.pk is not None


def test_a_new_vm_is_scoped_by_the_team_it_names(people, estate):
    cluster = estate["cluster"]
    Storage.objects.filter(cluster=cluster).update(storage_class=StorageClass.APPROVED)
    _policy("host_pinning", {"teams": [people.ops.slug]}, {"allowed_nodes": ["node1"]})
    base = {"name": "new", "storage": "local-lvm", "classification": "internal"}
    message = _refused(
        "node",
        lambda: _submit(
            people, "provision", {**base, "node": "node2", "team": people.ops.pk}, cluster=cluster
        ),
    )
    assert "node1" in message
    # Another team is outside the policy's scope.
    assert _submit(
        people, "provision", {**base, "node": "node2", "team": people.dev.pk}, cluster=cluster
    )


def test_new_vms_and_exports_need_storage_of_the_right_class(people, owned, estate):
    cluster = estate["cluster"]
    params = {"name": "new", "node": "node1", "storage": "local-lvm"}
    assert "not approved storage" in _refused(
        "storage", lambda: _submit(people, "import", params, cluster=cluster)
    )
    assert "not external storage" in _refused(
        "storage", lambda: _submit(people, "export", {"storage": "local-lvm"}, vm=owned["web"])
    )


def test_a_clone_past_the_copy_limit_is_refused(people, owned):
    web = owned["web"]
    _policy("copy_limits", {"clusters": [web.cluster.name]}, {"max_clones": 0})
    message = _refused(
        "vm", lambda: _submit(people, "clone", {"name": "c", "target_node": "node1"}, vm=web)
    )
    assert "at most 0 allowed" in message


def test_an_expired_lease_blocks_clone_migrate_and_export(people, owned):
    web: VirtualMachine = owned["web"]
    Ownership.objects.filter(vm=web, until__isnull=True).update(
        lease_end=timezone.localdate() - timedelta(days=1)
    )
    for kind, params in [
        ("clone", {"name": "c", "target_node": "node1"}),
        ("migrate", {"target_node": "node2"}),
        ("export", {"storage": "local-lvm"}),
    ]:
        assert "lease" in _refused("vm", lambda k=kind, p=params: _submit(people, k, p, vm=web))


def test_a_template_of_a_sensitive_vm_is_refused_naming_the_policy(people, owned):
    web = owned["web"]
    policy = _policy("copy_limits", {"classifications": ["sensitive"]}, {"no_templates": True})
    params = {"name": "tpl", "target_node": "node1", "template": True}
    VirtualMachine.objects.filter(pk=web.pk).update(classification="sensitive")
    message = _refused("template", lambda: _submit(people, "clone", params, vm=web))
    assert "No template may be made from this VM." in message
    assert f'Policy "{policy.name}"' in message
    # A plain clone of the same VM, and a template of a VM outside the scope, pass.
    assert _submit(people, "clone", {**params, "template": False}, vm=web).pk
    VirtualMachine.objects.filter(pk=web.pk).update(classification="internal")
    assert _submit(people, "clone", params, vm=web).pk


def test_an_export_copy_goes_to_another_visible_cluster_on_approved_or_external_storage(
    people, owned
):
    from guardian.shortcuts import assign_perm

    from tests.inventory.estate import make_cluster

    web, now = owned["web"], timezone.now()
    far = make_cluster("pve-far")
    for name in ("node1", "node2"):
        far.nodes.create(name=name, status="online", first_seen=now, last_seen=now)
    far.storages.create(name="local-lvm", first_seen=now, last_seen=now)
    params = {
        "method": "cluster",
        "target_cluster": far.name,
        "target_node": "node2",
        "target_storage": "local-lvm",
        "available_days": 3,
    }

    def submit(**changed):
        return _submit(people, "export", {**params, **changed}, vm=web)

    assert "No other registered, enabled cluster nowhere" in _refused(
        "target_cluster", lambda: submit(target_cluster="nowhere")
    )
    assert "No other registered" in _refused(
        "target_cluster", lambda: submit(target_cluster=web.cluster.name)
    )
    # A cluster the requester cannot see is no target either.
    assert "No other registered" in _refused("target_cluster", submit)
    assign_perm("inventory.view_cluster", people.alice, far)
    assert "local-lvm is not approved or external storage of pve-far" in _refused(
        "target_storage", submit
    )
    Storage.objects.filter(cluster=far).update(storage_class=StorageClass.EXTERNAL)
    _policy("host_pinning", {"clusters": [far.name]}, {"allowed_nodes": ["node1"]})
    assert "node1" in _refused("target_node", submit)
    # What Proxmox would refuse once the export's full clone started is said before
    # submission: a locked VM, and no approved storage for the clone on its cluster.
    VirtualMachine.objects.filter(pk=web.pk).update(lock="migrate")
    web.refresh_from_db()
    assert "is locked (migrate)" in _refused("vm", lambda: submit(target_node="node1"))
    VirtualMachine.objects.filter(pk=web.pk).update(lock="")
    web.refresh_from_db()
    assert "no approved storage" in _refused("vm", lambda: submit(target_node="node1"))
    Storage.objects.filter(cluster=web.cluster).update(storage_class=StorageClass.APPROVED)
    # The copy limits must allow one more copy of the VM (the clone), naming the policy.
    limit = _policy("copy_limits", {"clusters": [web.cluster.name]}, {"max_clones": 0})
    message = _refused("vm", lambda: submit(target_node="node1"))
    assert f'Policy "{limit.name}"' in message
    limit.delete()
    # An HA-managed VM is exported: only its clone moves.
    HAResource.objects.create(cluster=web.cluster, sid=f"vm:{web.vmid}", vmid=web.vmid)
    request = submit(target_node="node1")
    assert request.parameters["target_cluster"] == far.name
    assert request.parameters["clone_storage"]


def test_a_guest_with_snapshots_is_not_moved_to_another_cluster(people, owned):
    from inventory.models import Copy
    from tests.inventory.estate import make_cluster

    web, now = owned["web"], timezone.now()
    far = make_cluster(f"pve-far-{key()[:6]}")
    far.nodes.create(name="node1", status="online", first_seen=now, last_seen=now)
    far.storages.create(
        name="local-lvm", storage_class=StorageClass.APPROVED, first_seen=now, last_seen=now
    )
    params = {"target_cluster": far.name, "target_node": "node1", "target_storage": "local-lvm"}
    # The estate gives the web VM "before-upgrade" and "after-upgrade"; one more:
    Copy.objects.create(
        vm=web, cluster=web.cluster, source_vmid=web.vmid, kind="snapshot", name="weekly",
        created_at=now,
    )  # fmt: skip
    message = _refused("vm", lambda: _submit(people, "migrate", params, vm=web))
    assert "has snapshots (after-upgrade, before-upgrade, weekly)" in message
    assert "export copy" in message
    # A move inside the cluster keeps its snapshots: nothing to refuse.
    assert _submit(people, "migrate", {"target_node": "node2"}, vm=web).pk
    Copy.objects.filter(vm=web).update(deleted_at=now)
    assert _submit(people, "migrate", params, vm=web).parameters["target_cluster"] == far.name
