"""Request forms offer only what the inventory holds and refuse bad input before submission."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.approvals.forms import (
    FORMS,
    VM_KINDS,
    AccessForm,
    CloneForm,
    ExceptionForm,
    ExportForm,
    ImportForm,
    MigrateForm,
    OwnershipTransferForm,
    ProvisionForm,
    RollbackForm,
)
from inventory.models import Copy

pytestmark = pytest.mark.django_db


def _data(**fields):
    return {
        "justification": "needed for the quarterly release",
        "idempotency_key": uuid.uuid4(),
        **fields,
    }


def test_every_request_kind_has_a_form_and_vm_kinds_exclude_creation():
    assert set(FORMS) == {
        "provision",
        "import",
        "export",
        "migrate",
        "clone",
        "rollback",
        "snapshot_delete",
        "backup_delete",
        "ownership_transfer",
        "exception",
        "access",
    }
    assert "provision" not in VM_KINDS
    assert "import" not in VM_KINDS
    assert "migrate" in VM_KINDS


def test_an_unbound_form_carries_a_fresh_idempotency_key(scene):
    first = MigrateForm(user=scene.alice, vm=scene.web)
    second = MigrateForm(user=scene.alice, vm=scene.web)
    assert first.initial["idempotency_key"] != second.initial["idempotency_key"]


def test_migrate_offers_the_other_live_nodes_only(scene):
    form = MigrateForm(user=scene.alice, vm=scene.web)
    assert [node.name for node in form.fields["target_node"].queryset] == ["node2"]
    scene.node2.gone_since = timezone.now()
    scene.node2.save(update_fields=["gone_since"])
    form = MigrateForm(_data(target_node=scene.node2.pk), user=scene.alice, vm=scene.web)
    assert not form.is_valid()
    assert "target_node" in form.errors


def test_migrate_parameters_name_the_node(scene):
    form = MigrateForm(
        _data(target_node=scene.node2.pk, online="on"), user=scene.alice, vm=scene.web
    )
    assert form.is_valid(), form.errors
    assert form.parameters() == {"target_node": "node2", "online": True}


def test_a_short_justification_is_refused(scene):
    form = MigrateForm(
        _data(target_node=scene.node2.pk, justification="why"), user=scene.alice, vm=scene.web
    )
    assert not form.is_valid()
    assert "justification" in form.errors


def test_provision_accepts_only_approved_storage_and_a_future_lease(scene):
    cluster = scene.estate["cluster"]
    base = _data(
        node=scene.node2.pk,
        name="erin-app",
        cores=2,
        memory_mib=2048,
        disk_gib=16,
        classification="internal",
        team=scene.ops.pk,
    )
    form = ProvisionForm({**base, "storage": scene.external.pk}, user=scene.alice, cluster=cluster)
    assert not form.is_valid()
    assert "storage" in form.errors
    yesterday = timezone.localdate() - timedelta(days=1)
    form = ProvisionForm(
        {**base, "storage": scene.approved.pk, "lease_end": yesterday},
        user=scene.alice,
        cluster=cluster,
    )
    assert not form.is_valid()
    assert form.errors["lease_end"] == ["The lease end must be in the future."]
    form = ProvisionForm({**base, "storage": scene.approved.pk}, user=scene.alice, cluster=cluster)
    assert form.is_valid(), form.errors
    params = form.parameters()
    assert params["source"] == "scratch"
    assert (params["storage"], params["node"]) == ("local-lvm", "node2")
    assert (params["team"], params["lease_end"]) == (scene.ops.pk, None)


def test_provision_teams_are_the_requesters_own(scene):
    form = ProvisionForm(user=scene.alice, cluster=scene.estate["cluster"])
    assert list(form.fields["team"].queryset) == [scene.ops]


def test_provision_clones_only_templates_the_user_may_see(scene):
    template = scene.estate["template"]
    form = ProvisionForm(user=scene.alice, cluster=scene.estate["cluster"])
    assert template not in form.fields["template"].queryset
    form = ProvisionForm(user=scene.admin, cluster=scene.estate["cluster"])
    assert template in form.fields["template"].queryset


def test_export_offers_external_storage_only(scene):
    form = ExportForm(user=scene.alice, vm=scene.web)
    assert list(form.fields["storage"].queryset) == [scene.external]


def test_rollback_offers_the_guests_existing_snapshots(scene):
    # The estate records before-upgrade and after-upgrade; a deleted one is not offered.
    Copy.objects.filter(vm=scene.web, name="after-upgrade").update(deleted_at=timezone.now())
    form = RollbackForm(user=scene.alice, vm=scene.web)
    assert form.fields["snapshot"].choices == [("before-upgrade", "before-upgrade")]


def test_ownership_transfer_needs_an_active_user(scene):
    form = OwnershipTransferForm(_data(owner="nobody"), user=scene.alice, vm=scene.web)
    assert not form.is_valid()
    assert form.errors["owner"] == ["No active user has this username."]
    form = OwnershipTransferForm(_data(owner="carol"), user=scene.alice, vm=scene.web)
    assert form.is_valid(), form.errors
    assert form.parameters()["owner"] == scene.carol.pk


def test_access_window_must_end_after_it_starts_and_in_the_future(scene):
    now = timezone.now()
    form = AccessForm(
        _data(
            role="PVEVMUser", starts_at=now + timedelta(hours=2), ends_at=now + timedelta(hours=1)
        ),
        user=scene.alice,
        vm=scene.web,
    )
    assert not form.is_valid()
    assert form.errors["ends_at"] == ["The end must be after the start."]
    form = AccessForm(
        _data(role="Administrator", starts_at=now, ends_at=now + timedelta(hours=1)),
        user=scene.alice,
        vm=scene.web,
    )
    assert "role" in form.errors
    form = AccessForm(
        _data(role="PVEVMUser", starts_at=now, ends_at=now + timedelta(hours=1)),
        user=scene.alice,
        vm=scene.web,
    )
    assert form.is_valid(), form.errors
    assert form.parameters()["grantee"] == scene.alice.pk


def test_import_volume_must_be_on_a_storage_of_the_cluster(scene):
    cluster = scene.estate["cluster"]
    base = _data(
        name="imported", node=scene.node2.pk, storage=scene.approved.pk, classification="internal"
    )
    form = ImportForm(
        {**base, "source_volume": "nowhere:import/a.qcow2"}, user=scene.alice, cluster=cluster
    )
    assert not form.is_valid()
    assert form.errors["source_volume"] == ["No storage nowhere in cluster pve-test."]
    form = ImportForm(
        {**base, "source_volume": "usb-export:import/a.qcow2"}, user=scene.alice, cluster=cluster
    )
    assert form.is_valid(), form.errors


def test_migrate_to_another_cluster_names_it_and_needs_approved_storage_there(scene):
    from tests.inventory.estate import make_cluster

    now = timezone.now()
    other = make_cluster("pve-far")
    far = other.nodes.create(name="far1", status="online", first_seen=now, last_seen=now)
    other.storages.create(name="far-lvm", storage_class="approved", first_seen=now, last_seen=now)
    form = MigrateForm(_data(target_node=far.pk, online="on"), user=scene.admin, vm=scene.web)
    assert not form.is_valid()
    assert form.errors["target_storage"] == ["Name an approved storage of pve-far for the disks."]
    form = MigrateForm(
        _data(target_node=far.pk, online="on", target_storage="far-lvm"),
        user=scene.admin,
        vm=scene.web,
    )
    assert form.is_valid(), form.errors
    assert form.parameters() == {
        "target_node": "far1",
        "online": True,
        "target_cluster": "pve-far",
        "target_storage": "far-lvm",
    }


def test_exception_names_an_enabled_policy_and_a_future_date(scene):
    from policy.models import Policy

    now = timezone.now()
    policy = Policy.objects.create(
        name="no-usb", kind="devices", scope={}, parameters={}, created_at=now, updated_at=now
    )
    Policy.objects.create(name="old", kind="devices", enabled=False, created_at=now, updated_at=now)
    form = ExceptionForm(user=scene.alice, vm=scene.web)
    assert list(form.fields["policy"].queryset) == [policy]
    yesterday = timezone.localdate() - timedelta(days=1)
    form = ExceptionForm(_data(policy=policy.pk, until=yesterday), user=scene.alice, vm=scene.web)
    assert form.errors["until"] == ["The end date must be in the future."]
    until = timezone.localdate() + timedelta(days=30)
    form = ExceptionForm(_data(policy=policy.pk, until=until), user=scene.alice, vm=scene.web)
    assert form.is_valid(), form.errors
    assert form.parameters() == {"policy": policy.pk, "until": until.isoformat()}


def _far_cluster(storage_class: str = "external"):
    from tests.inventory.estate import make_cluster

    now = timezone.now()
    other = make_cluster("pve-export")
    far = other.nodes.create(name="exp1", status="online", first_seen=now, last_seen=now)
    other.storages.create(
        name="exp-store", storage_class=storage_class, first_seen=now, last_seen=now
    )
    return other, far


def test_export_backup_needs_its_storage_and_names_the_method(scene):
    form = ExportForm(_data(method="backup", available_days=3), user=scene.alice, vm=scene.web)
    assert not form.is_valid()
    assert form.errors["storage"] == ["Choose the external storage the backup goes to."]
    form = ExportForm(
        _data(method="backup", storage=scene.external.pk, available_days=3),
        user=scene.alice,
        vm=scene.web,
    )
    assert form.is_valid(), form.errors
    assert form.parameters() == {"method": "backup", "available_days": 3, "storage": "usb-export"}


def test_export_copy_offers_nodes_of_other_clusters_only(scene):
    other, far = _far_cluster()
    form = ExportForm(user=scene.admin, vm=scene.web)
    offered = list(form.fields["target_node"].queryset)
    assert far in offered
    assert all(node.cluster_id == other.pk for node in offered)
    # An end user sees no cluster until given one.
    assert not ExportForm(user=scene.alice, vm=scene.web).fields["target_node"].queryset.exists()


def test_export_copy_needs_approved_or_external_storage_of_the_target(scene):
    _, far = _far_cluster()
    base = {"method": "cluster", "target_node": far.pk, "available_days": 2}
    form = ExportForm(_data(**base, target_storage="nope"), user=scene.admin, vm=scene.web)
    assert not form.is_valid()
    assert form.errors["target_storage"] == [
        "Name an approved or external storage of pve-export for the disks."
    ]
    form = ExportForm(_data(method="cluster", available_days=2), user=scene.admin, vm=scene.web)
    assert not form.is_valid()
    assert form.errors["target_node"] == ["Choose a node of the cluster to copy to."]
    form = ExportForm(_data(**base, target_storage="exp-store"), user=scene.admin, vm=scene.web)
    assert form.is_valid(), form.errors
    assert form.parameters() == {
        "method": "cluster",
        "available_days": 2,
        "target_cluster": "pve-export",
        "target_node": "exp1",
        "target_storage": "exp-store",
    }


def test_clone_may_ask_for_a_template(scene):
    node = scene.web.node
    form = CloneForm(
        _data(name="tpl-copy", target_node=node.pk, full="on", template="on"),
        user=scene.alice,
        vm=scene.web,
    )
    assert form.is_valid(), form.errors
    assert form.parameters()["template"] is True
    plain = CloneForm(_data(name="copy", target_node=node.pk), user=scene.alice, vm=scene.web)
    assert plain.is_valid(), plain.errors
    assert plain.parameters()["template"] is False
