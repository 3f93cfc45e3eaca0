"""The whole sync against simulated clusters over HTTPS: first sync, then out-of-band changes.

Expected values come from the simulator's own estate (what the cluster really holds),
never from what Steward stored, so a sync that drops or invents data fails here.
"""

from __future__ import annotations

import pytest

from governance.audit.models import AuditEvent
from inventory.models import (
    AclEntry,
    BackupJob,
    Copy,
    GuestDevice,
    GuestNic,
    HAGroup,
    HAResource,
    HARule,
    Lineage,
    Node,
    Residency,
    Rollback,
    Storage,
    VirtualMachine,
)
from inventory.sync.service import cluster_sync

pytestmark = pytest.mark.django_db


def synced(cluster):
    run = cluster_sync(cluster_id=cluster.pk)
    assert (run.status, run.error) == ("ok", "")
    return run


def live(cluster):
    return VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=True)


@pytest.mark.parametrize("pve", ["8", "9"])
def test_first_sync_is_complete_and_correct(make_sim, cluster_for, pve) -> None:
    sim = make_sim(pve=pve)
    cluster = cluster_for(sim)
    synced(cluster)
    estate = sim.cluster.estate

    expected = {(g.vmid, g.kind, g.node, g.name, g.status) for g in estate.guests.values()}
    stored = set(live(cluster).values_list("vmid", "kind", "node__name", "name", "status"))
    assert stored == expected
    assert not live(cluster).filter(config_digest="").exists()
    assert set(Node.objects.filter(cluster=cluster).values_list("name", flat=True)) == set(
        estate.nodes
    )
    assert set(Storage.objects.filter(cluster=cluster).values_list("name", flat=True)) == set(
        estate.storages
    )
    # Parsed facts: one NIC row per netN key, passthrough devices where configs have them.
    nets = sum(1 for g in estate.guests.values() for k in g.config if k.startswith("net"))
    assert GuestNic.objects.filter(vm__cluster=cluster).count() == nets
    usb = sum(1 for g in estate.guests.values() for k in g.config if k.startswith("usb"))
    assert GuestDevice.objects.filter(vm__cluster=cluster, kind="usb").count() == usb
    snaps = sum(len(g.snapshots) for g in estate.guests.values())
    assert Copy.objects.filter(cluster=cluster, kind="snapshot").count() == snaps
    assert Residency.objects.filter(vm__cluster=cluster, ended_at__isnull=True).count() == len(
        estate.guests
    )
    assert HAResource.objects.filter(cluster=cluster).count() == len(estate.ha_resources)
    ha_model, ha_expected = (HARule, estate.ha_rules) if pve == "9" else (HAGroup, estate.ha_groups)
    assert ha_model.objects.filter(cluster=cluster).count() == len(ha_expected)
    assert BackupJob.objects.filter(cluster=cluster).count() == len(estate.backup_jobs)
    assert AclEntry.objects.filter(cluster=cluster).exists()
    cluster.refresh_from_db()
    assert cluster.pve_version.startswith(f"{pve}.")
    assert AuditEvent.objects.filter(action="inventory.guests_discovered").count() == 1

    events = AuditEvent.objects.count()
    second = synced(cluster)
    assert (second.stats["guests_created"], second.stats["guests_gone"]) == (0, 0)
    assert AuditEvent.objects.count() == events


def _movable(sim, *, kind: str = "qemu"):
    """A running guest of ``kind`` without HA, lock or local devices, and a target node."""
    estate = sim.cluster.estate
    for guest in estate.guests.values():
        if (
            guest.kind == kind
            and guest.status == "running"
            and estate.ha_resource(guest) is None
            and not guest.lock
            and not any(k.startswith(("usb", "hostpci", "serial")) for k in guest.config)
        ):
            target = next(n for n in sorted(estate.nodes) if n != guest.node)
            return guest, target
    raise AssertionError("the scenario has no movable guest")


def test_out_of_band_migration_snapshot_and_usb_appear_after_the_next_cycle(
    sim, cluster_for
) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, target = _movable(sim)
    others = [g for g in sim.cluster.estate.guests.values() if g.vmid != guest.vmid]
    snapped = others[0]
    usb = next(g for g in others if g.kind == "qemu" and sim.cluster.estate.nodes[g.node].usb)
    device = sim.cluster.estate.nodes[usb.node].usb[0]
    device_id = f"{device.vendid}:{device.prodid}"
    sim.control("POST", "guest/migrate", vmid=guest.vmid, target=target)
    sim.control("POST", "guest/snapshot", vmid=snapped.vmid, snapname="oob")
    sim.control("POST", "guest/attach-usb", vmid=usb.vmid, device=device_id)
    sim.advance(600)
    synced(cluster)

    vm = VirtualMachine.objects.get(cluster=cluster, vmid=guest.vmid, gone_since__isnull=True)
    assert vm.node.name == target
    current = vm.residencies.get(ended_at__isnull=True)
    assert (current.node.name, current.cause) == (target, "migrate")
    assert current.task_upid.split(":")[5] in ("qmigrate", "vzmigrate")
    assert vm.residencies.count() == 2
    assert Copy.objects.filter(
        cluster=cluster, kind="snapshot", source_vmid=snapped.vmid, name="oob"
    ).exists()
    assert GuestDevice.objects.filter(
        vm__cluster=cluster, vm__vmid=usb.vmid, kind="usb", value__contains=device_id
    ).exists()
    assert AuditEvent.objects.filter(action="inventory.guest_moved").count() == 1


def _root(sim, method: str, path: str, **data):
    response = sim.api(method, path, data=data or None)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_rollback_clone_and_destroy_through_the_api(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, _ = _movable(sim)
    base = f"/nodes/{guest.node}/qemu/{guest.vmid}"
    _root(sim, "POST", f"{base}/snapshot", snapname="before")
    sim.advance(120)
    _root(sim, "POST", f"{base}/snapshot/before/rollback")
    sim.advance(120)
    newid = max(sim.cluster.estate.guests) + 1
    _root(sim, "POST", f"{base}/clone", newid=newid, name="copy-of-it", full=1)
    sim.advance(600)
    synced(cluster)

    vm = VirtualMachine.objects.get(cluster=cluster, vmid=guest.vmid, gone_since__isnull=True)
    assert Rollback.objects.filter(vm=vm, source="task").exists()
    assert AuditEvent.objects.filter(action="inventory.rollback_detected").exists()
    clone = VirtualMachine.objects.get(cluster=cluster, vmid=newid)
    assert Lineage.objects.filter(parent=vm, child=clone, kind="clone").exists()
    assert clone.residencies.get().cause == "clone"

    clone_base = f"/nodes/{clone.node.name}/qemu/{newid}"
    if sim.cluster.estate.guests[newid].status == "running":
        _root(sim, "POST", f"{clone_base}/status/stop")
        sim.advance(60)
    _root(sim, "DELETE", clone_base)
    sim.advance(120)
    synced(cluster)
    clone.refresh_from_db()
    assert clone.gone_since is not None
    assert clone.residencies.get().ended_at is not None
    assert Copy.objects.get(kind="clone", name=str(newid)).deleted_at is not None


def test_node_down_recovers_ha_guests_and_records_why(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    estate = sim.cluster.estate
    ha_guest = next(
        g for g in estate.guests.values() if estate.ha_resource(g) is not None and g.running
    )
    down = ha_guest.node
    sim.control("POST", "node/down", node=down)
    sim.advance(600)
    run = cluster_sync(cluster_id=cluster.pk)
    assert run.status in ("ok", "partial")  # a down node may make its storage unreadable
    assert Node.objects.get(cluster=cluster, name=down).status != "online"
    vm = VirtualMachine.objects.get(cluster=cluster, vmid=ha_guest.vmid, gone_since__isnull=True)
    current = vm.residencies.get(ended_at__isnull=True)
    assert current.node.name == estate.guests[ha_guest.vmid].node != down
    assert current.cause == "ha_recovery"
    # Guests on the dead node are not gone: their configs are still in the cluster.
    assert not VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=False).exists()


def test_a_disk_on_another_storage_opens_a_storage_move_residency(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    guest, _ = _movable(sim)
    vm = VirtualMachine.objects.get(cluster=cluster, vmid=guest.vmid, gone_since__isnull=True)
    (first,) = vm.residencies.all()
    local_storage = "local-lvm"
    assert local_storage not in first.storage_names
    # pvesim has no move_disk; a disk allocated on another storage changes the set alike.
    _root(sim, "POST", f"/nodes/{guest.node}/qemu/{guest.vmid}/config", scsi5=f"{local_storage}:1")
    sim.advance(60)
    synced(cluster)
    stays = list(vm.residencies.order_by("started_at", "id"))
    assert [s.cause for s in stays] == [first.cause, "storage_move"]
    assert stays[0].ended_at is not None
    assert stays[1].ended_at is None
    assert stays[1].node_id == first.node_id
    assert stays[1].storage_names == sorted({*first.storage_names, local_storage})
    assert AuditEvent.objects.filter(action="inventory.guest_storage_moved").count() == 1


def test_clones_of_templates_link_to_their_template(sim, cluster_for) -> None:
    cluster = cluster_for(sim)
    synced(cluster)
    estate = sim.cluster.estate
    templates = sorted((g for g in estate.guests.values() if g.is_template), key=lambda g: g.vmid)
    full_from, linked_from = templates[:2]
    newid = max(estate.guests) + 1
    for source, child, full in ((full_from, newid, 1), (linked_from, newid + 1, 0)):
        path = f"/nodes/{source.node}/qemu/{source.vmid}/clone"
        _root(sim, "POST", path, newid=child, name=f"from-{source.vmid}", full=full)
    sim.advance(900)
    synced(cluster)
    rows = set(
        Lineage.objects.filter(child__vmid__in=(newid, newid + 1)).values_list(
            "parent__vmid", "child__vmid", "kind"
        )
    )
    assert rows == {
        (full_from.vmid, newid, "template_of"),
        (linked_from.vmid, newid + 1, "linked_clone"),
    }
