"""Import requests run by the engine against pvesim: an image or a guest of another
cluster comes in on approved storage, owned from birth, and starts only once its
quarantine is applied, verified and read back; a copy from another cluster is followed
on the source cluster, also after a lost worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.approvals.execution.base import MAX_STEP_ATTEMPTS
from governance.approvals.models import ExecutionState, StepState
from governance.ownership.models import Ownership
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from policy.models import ActionKind, Quarantine, QuarantineState, Remediation
from policy.remediation.quarantine import quarantine_group
from tests.governance.approvals.execution.helpers import (
    Driver,
    approved_request,
    execution_begin,
    left_by_dead_worker,
    new_vm,
    run_succeeded,
    steps_by_name,
)
from tests.policy.enforce.helpers import plain_qemu, synced_cluster

pytestmark = pytest.mark.django_db


def test_import_copies_the_image_onto_approved_storage_quarantined_and_owned(synced, alice):
    request = _image_import(synced, alice, "router", classification="internal")

    execution = run_succeeded(synced, request)

    vm = new_vm(synced, execution)
    disk = synced.sim.cluster.estate.guests[vm.vmid].config["scsi0"]
    assert disk.startswith(f"local-lvm:vm-{vm.vmid}-disk-0")
    assert "size=2G" in disk
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == alice
    _runs_in_quarantine(synced, vm, execution)


def _image_import(synced, alice, name: str, **parameters):
    """A request to import the simulator's router image as VM ``name`` on alpha1."""
    return approved_request(
        kind="import",
        requester=alice,
        cluster=synced.cluster,
        source_volume="local:import/router-appliance.qcow2",
        name=name,
        node="alpha1",
        storage="local-lvm",
        **parameters,
    )


def _runs_in_quarantine(synced, vm, execution) -> None:
    """Started only after policy applied the quarantine and the engine read it back:
    Proxmox shows the guest running behind the quarantine group."""
    quarantine = Quarantine.objects.get(vm=vm, lifted_at__isnull=True)
    assert quarantine.applied_state == QuarantineState.VERIFIED
    guest = {"node": vm.node.name, "kind": "qemu", "vmid": vm.vmid}
    assert synced.gateway.guest_status(**guest).status == "running"
    rules = synced.gateway.guest_firewall_rules(**guest)
    assert (rules[0].type, rules[0].action) == ("group", quarantine_group())
    assert synced.gateway.guest_firewall_options(**guest).enabled
    steps = steps_by_name(execution)
    assert steps["quarantine_verify"].finished_at <= steps["start"].started_at
    assert steps["start"].upid.split(":")[5] == "qmstart"


def test_an_import_whose_quarantine_cannot_be_applied_is_never_started(synced, alice):
    """Policy gave up applying the quarantine (its remediation failed): the request fails
    at the check, with the guest stopped and the reason named."""
    request = _image_import(synced, alice, "router-2")
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="quarantine", state=StepState.DONE)
    quarantine = Quarantine.objects.get(vm__vmid=steps_by_name(execution)["reserve"].result["vmid"])
    Quarantine.objects.filter(pk=quarantine.pk).update(applied_state=QuarantineState.FAILED)

    execution = driver.run(execution)

    assert execution.state == ExecutionState.FAILED
    assert "could not be applied" in execution.error
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    assert synced.sim.cluster.estate.guests[vmid].status != "running"
    assert steps_by_name(execution)["start"].state == StepState.PENDING


def test_an_import_waits_for_its_quarantine_without_using_up_its_attempts(synced, alice):
    """Policy's remediation is backing off (a lock, say): the start waits for it, however
    long, instead of failing after the step's retry budget, and starts once it is done."""
    request = _image_import(synced, alice, "router-3")
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="quarantine", state=StepState.DONE)
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    applying = Remediation.objects.filter(vm__vmid=vmid, action=ActionKind.QUARANTINE_APPLY)
    applying.update(next_attempt_at=timezone.now() + timedelta(hours=1))

    for _ in range(MAX_STEP_ATTEMPTS * 2):
        driver.tick(driver.step(execution) or 0)
    step = steps_by_name(execution)["quarantine_verify"]
    assert step.state == StepState.PENDING
    assert step.attempts == 0
    assert "waiting for policy to apply the quarantine" in step.log
    assert synced.sim.cluster.estate.guests[vmid].status != "running"

    applying.update(next_attempt_at=None)
    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    _runs_in_quarantine(synced, new_vm(synced, execution), execution)


def _remote_import(make_sim, cluster_for, synced, alice):
    """A second cluster, a stopped guest on it, and the request to import that guest."""
    other = synced_cluster(make_sim, cluster_for, seed=2)
    source = other.guest(lambda g: plain_qemu(g) and not g.running and not g.lock)
    request = approved_request(
        kind="import",
        requester=alice,
        cluster=synced.cluster,
        source_cluster=other.cluster.name,
        source_vmid=source.vmid,
        name=source.name,
        storage="local-lvm",
    )
    return other, source, request


def test_import_of_a_guest_from_another_cluster_copies_it_in_quarantined(
    make_sim, cluster_for, synced, alice
):
    other, source, request = _remote_import(make_sim, cluster_for, synced, alice)

    execution = Driver([synced.sim, other.sim], stride=120).run(execution_begin(request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    steps = steps_by_name(execution)
    assert steps["create"].state == StepState.SKIPPED
    # The copy is followed on the source cluster, its receiving end on this one.
    assert steps["copy_in"].upid.split(":")[5] == "qmigrate"
    assert steps["copy_in"].task_cluster == other.cluster
    assert steps["copy_in"].upid.split(":")[1] in other.sim.cluster.estate.nodes
    assert steps["receive"].upid.split(":")[5] == "qmtunnel"
    assert steps["receive"].task_cluster == synced.cluster
    vm = new_vm(synced, execution)
    assert synced.sim.cluster.estate.guests[vm.vmid].config["scsi0"].startswith("local-lvm:")
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == alice
    _runs_in_quarantine(synced, vm, execution)
    assert source.vmid in other.sim.cluster.estate.guests  # the source cluster keeps it


def test_a_worker_lost_during_a_cross_cluster_copy_resumes_on_the_source_cluster(
    make_sim, cluster_for, synced, alice
):
    """The worker died between the source cluster's answer and recording the UPID: the
    restarted engine finds the copy task on the source cluster (not the request's),
    adopts it, polls it there, and never starts a second copy."""
    from governance.approvals.execution import proxmox

    other, source, request = _remote_import(make_sim, cluster_for, synced, alice)
    execution = execution_begin(request)
    driver = Driver([synced.sim, other.sim], stride=120)
    driver.run_until(execution, step="create", state=StepState.SKIPPED)
    # What the dead worker left: the step claimed (lease run out), the copy started.
    left_by_dead_worker(execution, step="copy_in", now=driver.now)
    other_gw = ProxmoxGateway(cluster_endpoint(other.cluster))
    upid = other_gw.guest_remote_migrate(
        node=source.node,
        kind="qemu",
        vmid=source.vmid,
        target=cluster_endpoint(synced.cluster),
        target_vmid=steps_by_name(execution)["reserve"].result["vmid"],
        target_storage="local-lvm",
        target_bridge="1",
    )
    proxmox._GATEWAYS.clear()  # a new worker process: no cached clients

    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    copy_in = steps_by_name(execution)["copy_in"]
    assert copy_in.upid == upid
    assert copy_in.task_cluster == other.cluster
    copies = [t for t in other_gw.tasks() if t.type == "qmigrate" and t.id == str(source.vmid)]
    assert [t.upid for t in copies] == [upid]
    assert "adopted" in copy_in.log


# ---- appliances (OVA) ----------------------------------------------------------------------

OVA = "local:import/legacy-erp.ova"


def _appliance_import(synced, alice, name: str, source: str = OVA, **parameters):
    return approved_request(
        kind="import",
        requester=alice,
        cluster=synced.cluster,
        source_volume=source,
        name=name,
        node="alpha1",
        storage="local-lvm",
        **parameters,
    )


def test_an_ova_import_creates_the_appliance_on_approved_storage_quarantined_and_owned(
    synced, alice
):
    request = _appliance_import(synced, alice, "erp", classification="internal")

    execution = run_succeeded(synced, request)

    vm = new_vm(synced, execution)
    config = synced.sim.cluster.estate.guests[vm.vmid].config
    assert config["name"] == "erp"
    assert (config["cores"], config["memory"], config["ostype"]) == ("4", "6144", "l26")
    assert config["scsi0"].startswith(f"local-lvm:vm-{vm.vmid}-disk-")
    assert "size=32G" in config["scsi0"]
    assert config["scsi1"].startswith("local-lvm:")
    assert "size=8G" in config["scsi1"]
    assert config["net0"].startswith("vmxnet3=")
    assert "bridge=vmbr0" in config["net0"]
    assert Ownership.objects.get(vm=vm, until__isnull=True).owner == alice
    _runs_in_quarantine(synced, vm, execution)
    create = steps_by_name(execution)["create"]
    assert "Proxmox warns: ova-needs-extracting" in create.log
    # Each disk came out of the archive; the bare .ova was never an import source.
    log = synced.gateway.task_log(create.upid)
    assert any(f"extracting {OVA}/legacy-erp-disk1.vmdk" in line for line in log)
    assert not any(f"importing disk '{OVA}'" in line for line in log)


def test_the_request_overrides_the_appliance_size_and_names_the_bridge(synced, alice):
    request = _appliance_import(
        synced, alice, "erp-small", cores=2, memory_mib=2048, bridge="vmbr1"
    )

    execution = run_succeeded(synced, request)

    config = synced.sim.cluster.estate.guests[new_vm(synced, execution).vmid].config
    assert (config["cores"], config["memory"]) == ("2", "2048")
    assert "bridge=vmbr1" in config["net0"]


@pytest.mark.parametrize(
    ("source", "named"),
    [
        # PVE reads the descriptor with tar: a missing archive and one without a
        # descriptor both fail that command, which names the file.
        ("local:import/missing.ova", "-f /var/lib/vz/import/missing.ova '*.ovf'' failed"),
        ("local:import/broken.ova", "-f /var/lib/vz/import/broken.ova '*.ovf'' failed"),
    ],
)
def test_an_unreadable_appliance_fails_the_create_step_clearly(synced, alice, source, named):
    from pvesim.model.infra import Volume

    estate = synced.sim.cluster.estate
    estate.add_volume(
        estate.storages["local"], "alpha1", Volume("local:import/broken.ova", "import", 1, "ova")
    )
    request = _appliance_import(synced, alice, "erp-broken", source=source)

    execution = Driver([synced.sim]).run(execution_begin(request))

    assert execution.state == ExecutionState.FAILED
    create = steps_by_name(execution)["create"]
    assert create.state == StepState.FAILED
    assert f"Proxmox cannot read {source} as an appliance" in execution.error
    assert named in execution.error
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    assert vmid not in estate.guests


def test_the_import_form_reads_the_appliance_size_for_the_request_and_its_quota(synced, alice):
    """The form asks Proxmox for the appliance, so the request (and the team's quota)
    carries its 4 cores and 6 GiB; what Proxmox cannot read is refused there, named."""
    from governance.approvals.forms import ImportForm
    from governance.approvals.quota_usage import request_size
    from inventory.models import Node, Storage

    synced.cluster.storages.filter(name="local-lvm").update(storage_class="approved")
    data = {
        "name": "erp",
        "node": Node.objects.get(cluster=synced.cluster, name="alpha1").pk,
        "storage": Storage.objects.get(cluster=synced.cluster, name="local-lvm").pk,
        "classification": "internal",
        "justification": "bring the ERP in",
        "idempotency_key": uuid.uuid4(),
    }
    form = ImportForm({**data, "source_volume": OVA}, user=alice, cluster=synced.cluster)
    assert form.is_valid(), form.errors
    params = form.parameters()
    assert (params["cores"], params["memory_mib"]) == (4, 6144)
    size = request_size("import", params, None)
    assert (size.cores, size.memory) == (4, 6144 * 1024**2)

    missing = "local:import/missing.ova"
    form = ImportForm({**data, "source_volume": missing}, user=alice, cluster=synced.cluster)
    assert not form.is_valid()
    assert f"Proxmox cannot read {missing} as an appliance" in form.errors["source_volume"][0]
