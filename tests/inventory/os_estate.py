"""A small estate whose guests run known OS releases, for the diversity tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from governance.ownership.models import Ownership, OwnershipSource
from inventory.models import GuestOsInfo, Node
from tests.inventory.estate import make_cluster, vm_row

# name -> (kind, ostype, agent os_id, agent version_id)
GUESTS = {
    "deb10": ("qemu", "l26", "debian", "10"),
    "deb12": ("qemu", "l26", "debian", "12"),
    "rocky95": ("qemu", "l26", "rocky", "9.5"),
    "win7cfg": ("qemu", "win7", "", ""),
    "l26cfg": ("qemu", "l26", "", ""),
    "w2k8agent2022": ("qemu", "w2k8", "mswindows", "2022"),
    "ct-debian": ("lxc", "debian", "", ""),
}


def make_os_estate(name: str, *, teams: dict[str, Any] | None = None) -> dict[str, Any]:
    """One cluster with ``GUESTS`` (agent answers stored), owned by ``teams[guest]``."""
    now = timezone.now()
    cluster = make_cluster(name)
    node = Node.objects.create(
        cluster=cluster, name="node1", status="online", first_seen=now, last_seen=now
    )
    vms = {}
    for vmid, (guest, (kind, ostype, os_id, version)) in enumerate(GUESTS.items(), start=100):
        vm = vm_row(cluster, node, vmid, now=now, name=f"{name}-{guest}", kind=kind, ostype=ostype)
        vm.save()
        if os_id:
            GuestOsInfo.objects.create(
                vm=vm,
                os_id=os_id,
                version_id=version,
                name=os_id.title(),
                pretty_name=f"{os_id} {version}",
                read_at=now - timedelta(hours=1),
                checked_at=now - timedelta(hours=1),
            )
        team = (teams or {}).get(guest)
        if team is not None:
            Ownership.objects.create(vm=vm, team=team, since=now, source=OwnershipSource.ADMIN)
        vms[guest] = vm
    return vms
