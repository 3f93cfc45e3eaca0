"""Ledger selectors over states applied by the sync: residency, copies, lineage, identity,
dormancy and node exposure."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from inventory.models import Cluster, Node, VirtualMachine
from inventory.selectors.ledgers import (
    copies_for,
    dormant_vms,
    exposure,
    identity_conflicts,
    lineage_for,
    residency_for,
)
from inventory.selectors.vm_page import vm_page
from inventory.sync.state import DiskFacts, StorageRef
from tests.inventory.sync.builders import (
    NOW,
    apply_state,
    config,
    guest,
    remote,
    snapshot,
    task,
    volume,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return get_user_model().objects.create_user("root", is_superuser=True)


@pytest.fixture
def nobody():
    return get_user_model().objects.create_user("enduser")


def make_cluster(name: str) -> Cluster:
    return Cluster.objects.create(
        name=name, api_url="https://127.0.0.1:8006", token_id="a@pve!t", token_secret="s"
    )


def test_residency_and_copies_across_a_migration() -> None:
    cluster = make_cluster("alpha")
    apply_state(cluster.pk, remote(guests=(guest(100),), configs={100: config(100)}))
    later = NOW + timedelta(minutes=10)
    migrate = task("qmigrate", 100, start=later, end=later)
    moved = remote(
        guests=(guest(100, "pve2"),),
        tasks=(migrate,),
        snapshots={100: (snapshot("s1"),)},
        volumes={StorageRef("pbs"): (volume("pbs:backup/vzdump-qemu-100-a.vma.zst"),)},
    )
    apply_state(cluster.pk, moved, now=later)
    vm = VirtualMachine.objects.get(vmid=100)
    assert [(r.node.name, r.cause) for r in residency_for(vm)] == [
        ("pve1", "discovered"),
        ("pve2", "migrate"),
    ]
    assert [(c.kind, c.name) for c in copies_for(vm)] == [
        ("snapshot", "s1"),
        ("backup", "pbs:backup/vzdump-qemu-100-a.vma.zst"),
    ]


def test_lineage_tree_from_any_member() -> None:
    cluster = make_cluster("alpha")
    apply_state(cluster.pk, remote(guests=(guest(9000, template=True),)))

    def linked(child: int, parent: int):
        disk = DiskFacts("scsi0", "local-lvm", f"local-lvm:base-{parent}-disk-0/vm-{child}-disk-0")
        return config(child, disks=(disk,))

    grown = remote(
        guests=(guest(9000, template=True), guest(101), guest(102)),
        configs={101: linked(101, 9000), 102: linked(102, 9000)},
    )
    apply_state(cluster.pk, grown, now=NOW + timedelta(minutes=1))
    again = replace(grown, guests=(*grown.guests, guest(103)), configs={103: linked(103, 101)})
    apply_state(cluster.pk, again, now=NOW + timedelta(minutes=2))
    tree = lineage_for(VirtualMachine.objects.get(vmid=103))
    assert tree.vm.vmid == 9000
    assert [(c.vm.vmid, c.kind) for c in tree.children] == [
        (101, "linked_clone"),
        (102, "linked_clone"),
    ]
    assert [c.vm.vmid for c in tree.children[0].children] == [103]


def test_identity_conflicts_across_clusters(admin, nobody) -> None:
    alpha, bravo = make_cluster("alpha"), make_cluster("bravo")
    shared_mac = "AA:BB:CC:00:00:01"
    apply_state(
        alpha.pk,
        remote(
            guests=(guest(100), guest(101)),
            configs={
                100: config(100, smbios_uuid="u-1", macs=(shared_mac,)),
                101: config(101, smbios_uuid="u-2"),
            },
        ),
    )
    apply_state(
        bravo.pk,
        remote(
            guests=(guest(200),), configs={200: config(200, smbios_uuid="u-1", macs=(shared_mac,))}
        ),
    )
    found = {
        (c.what, c.value): sorted(g.vmid for g in c.guests) for c in identity_conflicts(user=admin)
    }
    assert found == {("smbios_uuid", "u-1"): [100, 200], ("mac", shared_mac): [100, 200]}
    assert identity_conflicts(user=nobody) == []

    # One guest's view is the same query narrowed to its identities; its page lists twins.
    vm = VirtualMachine.objects.get(cluster=alpha, vmid=100)
    scoped = identity_conflicts(user=admin, vm=vm)
    mine = {(c.what, c.value): [g.vmid for g in c.guests] for c in scoped}
    assert mine == found
    loner = VirtualMachine.objects.get(cluster=alpha, vmid=101)
    assert identity_conflicts(user=admin, vm=loner) == []
    page = vm_page(user=admin, vm=vm)
    assert [(reason, other.vmid) for reason, other in page["conflicts"]] == [
        ("SMBIOS UUID u-1", 200),
        (f"MAC {shared_mac}", 200),
    ]
    assert vm_page(user=nobody, vm=vm)["conflicts"] == []


def test_dormant_guests(admin) -> None:
    cluster = make_cluster("alpha")
    apply_state(cluster.pk, remote(guests=(guest(100), guest(101, status="stopped"), guest(102))))
    later = NOW + timedelta(days=1)
    apply_state(
        cluster.pk,
        remote(guests=(guest(100, status="stopped"), guest(101, status="stopped"), guest(102))),
        now=later,
    )
    at = NOW + timedelta(days=40)
    assert {vm.vmid for vm in dormant_vms(user=admin, days=30, now=at)} == {100, 101}
    assert [vm.vmid for vm in dormant_vms(user=admin, days=39, now=at)] == [101]
    assert list(dormant_vms(user=admin, days=30, now=NOW + timedelta(days=5))) == []


def test_exposure_of_a_node_lists_who_ran_there_and_copies_since(admin, nobody) -> None:
    cluster = make_cluster("alpha")
    apply_state(cluster.pk, remote(guests=(guest(100), guest(101, "pve2"))))
    later = NOW + timedelta(hours=1)
    migrate = task("qmigrate", 100, start=later, end=later)
    apply_state(
        cluster.pk,
        remote(
            guests=(guest(100, "pve2"), guest(101, "pve2")),
            tasks=(migrate,),
            snapshots={100: (snapshot("after"),), 101: (snapshot("other"),)},
        ),
        now=later,
    )
    pve1 = Node.objects.get(cluster=cluster, name="pve1")
    since = NOW - timedelta(hours=1)
    window = exposure(user=admin, node=pve1, since=since, until=NOW + timedelta(minutes=30))
    assert [(e.vm.vmid, [c.name for c in e.copies]) for e in window] == [(100, ["after"])]
    assert [s.ended_at for s in window[0].stays] == [later]
    after_it_left = exposure(
        user=admin, node=pve1, since=later + timedelta(hours=1), until=later + timedelta(hours=2)
    )
    assert after_it_left == []
    assert exposure(user=nobody, node=pve1, since=since, until=later) == []
