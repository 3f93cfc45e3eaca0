"""Automatic approval below a chain's size thresholds, judged by what a request really
produces or acts on: the source VM's cores, memory and disks (from the inventory of a
pvesim cluster) for clone and migrate, the template's disks for a provision from a
template, the typed size from scratch. Each limit is tried at and just over the size."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from governance.accounts.roles import Role
from governance.approvals.models import ExecutionState, Request
from governance.approvals.services.chains import approvals_needed, request_footprint
from inventory.models import GuestDisk, VirtualMachine
from tests.factories import UserFactory
from tests.governance.approvals.core.conftest import chain_make
from tests.governance.approvals.execution.helpers import (
    Driver,
    approved_provision,
    execution_begin,
    steps_by_name,
)

pytestmark = pytest.mark.django_db

MIB = 1024**2
GIB = 1024**3
STEP = {"name": "Manager", "approver_rule": "team_manager"}
THRESHOLD = {
    "cores": "auto_max_cores",
    "memory": "auto_max_memory_mib",
    "disk": "auto_max_disk_gib",
}


@pytest.fixture
def alice():
    return UserFactory(username="alice", roles=[Role.END_USER])


def _disk_bytes(vm: VirtualMachine) -> int:
    total = GuestDisk.objects.filter(vm=vm, is_cdrom=False).aggregate(t=Sum("size"))["t"]
    return total or vm.maxdisk


def _guest(synced, *, template: bool) -> VirtualMachine:
    """A synced qemu guest with at least 2 cores, 1 GiB of memory and a disk."""
    for vm in VirtualMachine.objects.filter(
        cluster=synced.cluster, kind="qemu", template=template, gone_since__isnull=True
    ).order_by("vmid"):
        if vm.maxcpu >= 2 and vm.maxmem >= GIB and _disk_bytes(vm) > GIB:
            return vm
    raise AssertionError(f"no suitable {'template' if template else 'guest'} in the estate")


def _request(kind: str, requester, cluster, vm=None, **parameters) -> Request:
    """An unsaved request, as the form previews it before submission."""
    now = timezone.now()
    return Request(
        kind=kind,
        requester=requester,
        vm=vm,
        cluster=cluster,
        parameters=parameters,
        idempotency_key=uuid.uuid4().hex,
        created_at=now,
        updated_at=now,
    )


def _case(name: str, synced, alice) -> tuple[Request, dict[str, int]]:
    """The request of case ``name`` and the size (cores, MiB, GiB rounded up) it produces."""
    cluster = synced.cluster
    size = {"cores": 3, "memory_mib": 3072, "disk_gib": 40}
    if name == "provision_scratch":
        request = _request("provision", alice, cluster, source="scratch", **size)
        return request, {"cores": 3, "memory": 3072, "disk": 40}
    if name == "provision_template":
        template = _guest(synced, template=True)
        # The typed disk is tiny: the template's disks are what the clone really has.
        request = _request(
            "provision",
            alice,
            cluster,
            source="clone",
            template=template.pk,
            **{**size, "disk_gib": 1},
        )
        return request, {"cores": 3, "memory": 3072, "disk": -(-_disk_bytes(template) // GIB)}
    vm = _guest(synced, template=False)
    real = {
        "cores": vm.maxcpu,
        "memory": -(-vm.maxmem // MIB),
        "disk": -(-_disk_bytes(vm) // GIB),
    }
    if name == "clone":
        return _request("clone", alice, cluster, vm=vm, name="copy-1"), real
    if name == "migrate":
        return _request("migrate", alice, cluster, vm=vm, target_node="alpha2"), real
    raise AssertionError(name)


@pytest.mark.parametrize("limit", ["cores", "memory", "disk"])
@pytest.mark.parametrize("case", ["provision_scratch", "provision_template", "clone", "migrate"])
def test_each_size_limit_is_judged_by_what_the_request_produces(synced, alice, case, limit):
    request, real = _case(case, synced, alice)
    chain = chain_make(request.kind, STEP, auto_approve=True, **{THRESHOLD[limit]: real[limit]})

    auto, steps = approvals_needed(request)
    assert auto, f"{case}: {limit} {real[limit]} is within a limit of {real[limit]}"

    setattr(chain, THRESHOLD[limit], real[limit] - 1)
    chain.save(update_fields=[THRESHOLD[limit]])
    auto, steps = approvals_needed(request)
    assert not auto, f"{case}: {limit} {real[limit]} is over a limit of {real[limit] - 1}"
    assert [s.name for s in steps] == ["Manager"]


def test_a_provision_from_a_template_is_not_judged_by_its_typed_disk(synced, alice):
    template = _guest(synced, template=True)
    template_gib = -(-_disk_bytes(template) // GIB)
    request = _request(
        "provision",
        alice,
        synced.cluster,
        source="clone",
        template=template.pk,
        cores=1,
        memory_mib=512,
        disk_gib=template_gib + 500,
    )
    chain_make("provision", STEP, auto_approve=True, auto_max_disk_gib=template_gib)
    assert approvals_needed(request)[0]


def test_a_template_missing_from_the_inventory_is_never_within_a_disk_limit(synced, alice):
    request = _request(
        "provision", alice, synced.cluster, source="clone", template=987654, disk_gib=1
    )
    chain_make("provision", STEP, auto_approve=True, auto_max_disk_gib=4096)
    assert not approvals_needed(request)[0]


def test_an_image_import_of_unknown_disk_size_is_never_within_a_disk_limit(synced, alice):
    request = _request(
        "import", alice, synced.cluster, source_volume="import:import/disk.qcow2", name="in-1"
    )
    chain = chain_make("import", STEP, auto_approve=True, auto_max_disk_gib=4096)
    assert not approvals_needed(request)[0]
    chain.auto_max_disk_gib = None
    chain.auto_max_cores = 64
    chain.save()
    assert approvals_needed(request)[0]


def _container_template(synced) -> VirtualMachine:
    """A stopped container made a template through Proxmox (the estate has only VM ones)."""
    guest = synced.guest(
        lambda g: g.kind == "lxc" and g.status == "stopped" and not g.lock and not g.snapshots
    )
    synced.gateway.guest_template(node=guest.node, kind="lxc", vmid=guest.vmid)
    synced.sync()
    return synced.vm(guest.vmid)


@pytest.mark.parametrize("kind", ["qemu", "lxc"])
def test_the_judged_size_is_the_size_proxmox_really_gives_a_provision_from_a_template(
    synced, alice, kind
):
    template = _guest(synced, template=True) if kind == "qemu" else _container_template(synced)
    assert template.template
    assert template.kind == kind
    request = approved_provision(
        synced,
        alice,
        template=template,
        name="sized-1",
        size=(3, 768, 1),
        lease_end=(timezone.localdate() + timedelta(days=30)).isoformat(),
    )
    judged = request_footprint(request).size

    execution = Driver([synced.sim], stride=30).run(execution_begin(request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    vmid = steps_by_name(execution)["reserve"].result["vmid"]
    new = VirtualMachine.objects.get(cluster=synced.cluster, vmid=vmid, gone_since__isnull=True)
    assert (new.kind, new.maxcpu, new.maxmem) == (kind, 3, 768 * MIB)
    assert (new.maxcpu, new.maxmem, _disk_bytes(new)) == (judged.cores, judged.memory, judged.disk)
    assert judged.disk == _disk_bytes(template) > 0
