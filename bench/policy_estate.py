"""The estate and the policies the policy benchmark evaluates (``bench/policy_bench.py``).

``inventory_list_bench``'s 100,000 guests get per-guest child rows (disks, devices,
snapshots, backups, ownership, rollbacks) and per-cluster storages and backup jobs in the
proportions the benchmark's docstring gives; ``policies`` are its 20 documents.
"""

from __future__ import annotations

USERS = 200
TEAMS = 20


def inventory_bench():
    """The inventory list benchmark, for its guest seeding."""
    from bench import inventory_list_bench

    return inventory_list_bench


def seed_policy_data() -> dict:
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from governance.accounts.models import Team, User
    from governance.ownership.models import Ownership
    from inventory.models import (
        BackupJob,
        Cluster,
        Copy,
        GuestDevice,
        GuestDisk,
        Rollback,
        Storage,
        VirtualMachine,
    )

    now = timezone.now()
    today = timezone.localdate()
    clusters = list(Cluster.objects.order_by("pk"))
    Storage.objects.bulk_create(
        Storage(cluster=c, name=name, storage_class=cls, first_seen=now, last_seen=now)
        for c in clusters
        for name, cls in (("local-lvm", "approved"), ("pbs", "approved"), ("usb", "removable"))
    )
    BackupJob.objects.bulk_create(
        BackupJob(
            cluster=c, job_id="usb-weekly", storage="usb", selection="vmids", vmids=[100, 101]
        )
        for c in clusters
    )
    teams = Team.objects.bulk_create(Team(name=f"T{i}", slug=f"t{i}") for i in range(TEAMS))
    users = User.objects.bulk_create(
        User(username=f"p{i:03d}", password=make_password(None)) for i in range(USERS)
    )
    rows = VirtualMachine.objects.order_by("pk").values_list("pk", "cluster_id", "vmid")
    disks, devices, copies, owners, rollbacks, sensitive, bare = [], [], [], [], [], [], []
    for n, (pk, cluster_id, vmid) in enumerate(rows.iterator(chunk_size=20000)):
        storage = "usb" if n % 100 == 7 else "local-lvm"
        disks.append(
            GuestDisk(
                vm_id=pk, key="scsi0", storage_name=storage, volume=f"{storage}:vm-{vmid}-disk-0"
            )
        )
        if n % 100 == 3:
            devices.append(GuestDevice(vm_id=pk, key="usb0", kind="usb", value="host=1234:5678"))
        if n % 5 == 0:
            age = 60 if n % 50 == 0 else 2
            copies.append(
                Copy(
                    vm_id=pk,
                    cluster_id=cluster_id,
                    source_vmid=vmid,
                    kind="snapshot",
                    name="before-upgrade",
                    created_at=now - timedelta(days=age),
                    vmstate=n % 15 == 0,
                )
            )
        if n % 5 == 1:
            store = "usb" if n % 40 == 1 else "pbs"
            copies.append(
                Copy(
                    vm_id=pk,
                    cluster_id=cluster_id,
                    source_vmid=vmid,
                    kind="backup",
                    name=f"{store}:backup/vm/{vmid}/x",
                    storage_name=store,
                    storage_class="removable" if store == "usb" else "approved",
                    created_at=now - timedelta(days=n % 120),
                )
            )
        if n % 10 != 9:
            owners.append(
                Ownership(
                    vm_id=pk,
                    owner=users[n % USERS],
                    team=teams[n % TEAMS],
                    lease_end=today - timedelta(days=30) if n % 200 == 0 else None,
                    since=now - timedelta(days=100),
                    source="bulk",
                )
            )
        if n % 500 == 0:
            rollbacks.append(Rollback(vm_id=pk, detected_at=now, source="task", snapshot_name="s"))
        if n % 10 == 0:
            sensitive.append(pk)
        if n % 100 == 11:
            bare.append(pk)
    for model, objects in (
        (GuestDisk, disks),
        (GuestDevice, devices),
        (Copy, copies),
        (Ownership, owners),
        (Rollback, rollbacks),
    ):
        model.objects.bulk_create(objects, batch_size=5000)
    VirtualMachine.objects.filter(pk__in=sensitive).update(classification="sensitive")
    # QEMU guests have a vmgenid and an rng device, but for one in a hundred.
    VirtualMachine.objects.filter(kind="qemu").update(
        vmgenid="c0ffee00-0000-4000-8000-000000000001", has_rng=True
    )
    VirtualMachine.objects.filter(pk__in=bare).update(has_rng=False)
    return {
        "disks": len(disks),
        "devices": len(devices),
        "copies": len(copies),
        "ownerships": len(owners),
        "rollbacks": len(rollbacks),
        "sensitive": len(sensitive),
    }


def policies(cluster_names: list[str]) -> list[dict]:
    everything = {"classifications": ["public", "internal", "sensitive"]}
    sensitive = {"classifications": ["sensitive"]}
    half = {"clusters": cluster_names[::2]}
    return [
        {
            "name": "pin-half",
            "kind": "host_pinning",
            "scope": half,
            "parameters": {"allowed_nodes": ["n0", "n1"]},
        },
        {
            "name": "pin-sensitive",
            "kind": "host_pinning",
            "scope": sensitive,
            "parameters": {"allowed_nodes": ["n0", "n1", "n2"]},
        },
        {"name": "media-all", "kind": "no_removable_media", "scope": everything},
        {
            "name": "media-prod",
            "kind": "no_removable_media",
            "scope": {"tags": ["prod"]},
            "parameters": {"check_disks": False},
        },
        {
            "name": "copies-sensitive",
            "kind": "copy_limits",
            "scope": sensitive,
            "parameters": {"max_clones": 0, "max_backups": 3},
        },
        {
            "name": "copies-all",
            "kind": "copy_limits",
            "scope": everything,
            "parameters": {"max_backups": 10, "no_templates": False},
        },
        {
            "name": "lifetime-sensitive",
            "kind": "data_lifetime",
            "scope": sensitive,
            "parameters": {
                "max_snapshot_age_days": 30,
                "no_vmstate_snapshots": True,
                "max_backup_age_days": 90,
            },
        },
        {
            "name": "lifetime-all",
            "kind": "data_lifetime",
            "scope": everything,
            "parameters": {"max_snapshot_age_days": 90},
        },
        {
            "name": "dormancy-all",
            "kind": "dormancy_quarantine",
            "scope": everything,
            "parameters": {"days": 60},
        },
        {
            "name": "dormancy-prod",
            "kind": "dormancy_quarantine",
            "scope": {"tags": ["prod"]},
            "parameters": {"days": 30},
        },
        {
            "name": "rollback-all",
            "kind": "rollback_awareness",
            "scope": everything,
            "parameters": {"require_rng": False},
        },
        {
            "name": "rollback-sensitive",
            "kind": "rollback_awareness",
            "scope": sensitive,
            "parameters": {"quarantine": True},
        },
        {"name": "owner-all", "kind": "ownership_required", "scope": everything},
        {
            "name": "owner-half",
            "kind": "ownership_required",
            "scope": half,
            "parameters": {"action": "stop"},
        },
        {"name": "lease-all", "kind": "lease_expired", "scope": everything},
        {
            "name": "lease-sensitive",
            "kind": "lease_expired",
            "scope": sensitive,
            "parameters": {"action": "quarantine", "grace_days": 0},
        },
        {"name": "identity-all", "kind": "identity_conflicts", "scope": everything},
        {"name": "identity-half", "kind": "identity_conflicts", "scope": half},
        {"name": "acl-all", "kind": "unbacked_acl", "scope": {"clusters": cluster_names}},
        {"name": "acl-half", "kind": "unbacked_acl", "scope": half},
    ]
