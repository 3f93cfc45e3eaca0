"""Celery tasks of the policy engine against real pvesim clusters: the scheduled
``reconcile_all`` and ``rights_sync_all`` (CELERY_BEAT_SCHEDULE) run through Celery in
eager mode, and the rights sync an ownership change queues for its cluster (custodian
set, owner transferred, a role an admin widened in Proxmox put back)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from governance.celery import app as celery_app
from governance.ownership.services import ownership_change
from inventory.models import Cluster, Storage, StorageClass
from policy import rights_follow
from policy.models import Remediation
from policy.rights import FORBIDDEN_PRIVILEGES
from policy.services.rights import steward_roles
from policy.tasks import reconcile_all, rights_sync_all, rights_sync_cluster
from tests.factories import UserFactory
from tests.policy.enforce.e2e import drain, policy_on
from tests.policy.enforce.helpers import plain_qemu, synced_cluster

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager(monkeypatch):
    """Celery runs ``delay``/``apply_async`` in the calling process, as a worker would."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", True)


@pytest.fixture
def queued(monkeypatch):
    """The rights syncs ownership changes queue: (cluster id, countdown)."""
    seen: list[tuple[int, float]] = []
    monkeypatch.setattr(
        rights_sync_cluster,
        "apply_async",
        lambda args, countdown=0, **_: seen.append((args[0], countdown)),
    )
    return seen


def _acl(synced) -> set[tuple[str, str, str]]:
    return {(a.path, a.ugid, a.roleid) for a in synced.gateway.acl()}


def _insert_iso(synced, guest) -> None:
    response = synced.sim.api(
        "PUT",
        f"/nodes/{guest.node}/qemu/{guest.vmid}/config",
        data={"ide2": "local:iso/debian-12.8.0-amd64-netinst.iso,media=cdrom"},
    )
    assert response.status_code == 200, response.text
    synced.sync()


def test_reconcile_all_reconciles_each_enabled_cluster(make_sim, cluster_for, recorder, eager):
    on, off = synced_cluster(make_sim, cluster_for), synced_cluster(make_sim, cluster_for)
    guests = {}
    for synced in (on, off):
        Storage.objects.filter(cluster=synced.cluster).update(storage_class=StorageClass.APPROVED)
        guests[synced.cluster.pk] = guest = synced.guest(plain_qemu)
        _insert_iso(synced, guest)  # seen by the sync, before any policy exists
    Cluster.objects.filter(pk=off.cluster.pk).update(enabled=False)
    policy_on(
        "no_removable_media",
        [on.vm(guests[on.cluster.pk].vmid), off.vm(guests[off.cluster.pk].vmid)],
        check_disks=False,
        check_backups=False,
        check_backup_jobs=False,
        approved_iso_storages=["nfs-iso"],
    )

    assert reconcile_all.delay().get() == [on.cluster.pk]

    [detach] = drain(on)
    assert (detach.cluster_id, detach.action, detach.state) == (
        on.cluster.pk,
        "detach_media",
        "done",
    )
    on_guest, off_guest = guests[on.cluster.pk], guests[off.cluster.pk]
    assert on.sim.cluster.estate.guests[on_guest.vmid].config["ide2"] == "none,media=cdrom"
    assert off.sim.cluster.estate.guests[off_guest.vmid].config["ide2"].startswith("local:iso/")
    assert not Remediation.objects.filter(cluster=off.cluster).exists()


def test_rights_sync_all_repairs_a_role_an_admin_widened(make_sim, cluster_for, eager):
    synced = synced_cluster(make_sim, cluster_for)
    other = synced_cluster(make_sim, cluster_for)
    Cluster.objects.filter(pk=other.cluster.pk).update(enabled=False)
    assert rights_sync_all.delay().get() == [synced.cluster.pk]
    wanted = steward_roles(9)["StewardUser"]
    roles = {r.roleid: r.privs for r in synced.gateway.roles()}
    assert roles["StewardUser"] == wanted
    assert "StewardUser" not in {r.roleid for r in other.gateway.roles()}  # disabled: untouched

    widened = sorted({*wanted, "VM.Migrate", "VM.Clone"})
    response = synced.sim.api("PUT", "/access/roles/StewardUser", data={"privs": ",".join(widened)})
    assert response.status_code == 200, response.text
    assert {r.roleid: r.privs for r in synced.gateway.roles()}["StewardUser"] >= {"VM.Migrate"}

    rights_sync_all.delay().get()

    repaired = {r.roleid: r.privs for r in synced.gateway.roles()}["StewardUser"]
    assert repaired == wanted
    assert not repaired & FORBIDDEN_PRIVILEGES


def test_on_pve8_the_role_never_holds_the_qemu_monitor(make_sim, cluster_for, eager):
    """PVE 8's VM.Monitor opens the QEMU monitor (hot-plug a host USB device) and agent exec:
    an admin adding it to Steward's role is undone like any other widening."""
    synced = synced_cluster(make_sim, cluster_for, pve="8")
    assert synced.cluster.pve_version.startswith("8.")
    rights_sync_all.delay().get()
    wanted = steward_roles(8)["StewardUser"]
    assert "VM.Monitor" not in wanted
    assert {r.roleid: r.privs for r in synced.gateway.roles()}["StewardUser"] == wanted
    widened = ",".join(sorted({*wanted, "VM.Monitor"}))
    response = synced.sim.api("PUT", "/access/roles/StewardUser", data={"privs": widened})
    assert response.status_code == 200, response.text

    rights_sync_all.delay().get()

    assert {r.roleid: r.privs for r in synced.gateway.roles()}["StewardUser"] == wanted


def test_ownership_changes_queue_one_rights_sync_per_cluster_and_it_follows_them(
    make_sim, cluster_for, queued
):
    synced = synced_cluster(make_sim, cluster_for)
    cluster_id = synced.cluster.pk
    cache.delete(rights_follow._key(cluster_id))
    alice, bob, carol = (UserFactory(username=n) for n in ("alice", "bob", "carol"))
    guest = synced.guest(plain_qemu)
    vm = synced.vm(guest.vmid)
    path = f"/vms/{guest.vmid}"

    ownership_change(actor=None, vm=vm, source="admin", reason="t", owner=alice)
    ownership_change(actor=None, vm=vm, source="admin", reason="t", custodian=bob)

    assert queued == [(cluster_id, rights_follow.RIGHTS_SYNC_DELAY)]  # two changes, one sync
    rights_sync_cluster.apply(args=[cluster_id]).get()
    acl = _acl(synced)
    assert (path, "alice@pve", "StewardUser") in acl
    assert (path, "bob@pve", "StewardUser") in acl  # the custodian too

    cache.delete(rights_follow._key(cluster_id))  # the first sync's window has passed
    ownership_change(actor=None, vm=vm, source="transfer", reason="t", owner=carol)
    assert queued[-1] == (cluster_id, rights_follow.RIGHTS_SYNC_DELAY)
    assert len(queued) == 2
    rights_sync_cluster.apply(args=[cluster_id]).get()
    acl = _acl(synced)
    assert (path, "alice@pve", "StewardUser") not in acl  # the old owner's entry is gone
    assert (path, "carol@pve", "StewardUser") in acl
    assert (path, "bob@pve", "StewardUser") in acl


def test_a_bulk_assignment_queues_one_rights_sync_for_its_cluster(make_sim, cluster_for, queued):
    from governance.ownership.services import ownership_assign_bulk
    from inventory.models import VirtualMachine

    synced = synced_cluster(make_sim, cluster_for)
    cluster_id = synced.cluster.pk
    cache.delete(rights_follow._key(cluster_id))
    admin, dora = UserFactory(username="admin-bulk"), UserFactory(username="dora")
    vmids = sorted(g.vmid for g in synced.sim.cluster.estate.guests.values() if plain_qemu(g))[:3]
    vms = VirtualMachine.objects.filter(cluster_id=cluster_id, vmid__in=vmids)

    changed = ownership_assign_bulk(
        actor=admin, vms_qs=vms, custodian=dora, reason="night shift covers these"
    )

    assert changed == 3
    assert queued == [(cluster_id, rights_follow.RIGHTS_SYNC_DELAY)]
    rights_sync_cluster.apply(args=[cluster_id]).get()
    acl = _acl(synced)
    assert {(f"/vms/{vmid}", "dora@pve", "StewardUser") for vmid in vmids} <= acl
