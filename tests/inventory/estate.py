"""Build inventory rows directly (no sync) for page, API and benchmark tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from inventory.models import (
    Cluster,
    Copy,
    CopyKind,
    GuestDevice,
    GuestDisk,
    GuestNic,
    Lineage,
    LineageKind,
    Node,
    ProxmoxTask,
    Residency,
    ResidencyCause,
    Rollback,
    RollbackSource,
    Storage,
    StorageNodeStatus,
    SyncRun,
    VirtualMachine,
)


def make_cluster(name: str = "pve-test", **fields: Any) -> Cluster:
    values = {
        "api_url": "https://127.0.0.1:8006",
        "token_id": "steward@pve!sync",
        "token_secret": "secret-not-shown",
        "fingerprint": "ab" * 32,
        "pve_version": "9.1.1",
    }
    values.update(fields)
    return Cluster.objects.create(name=name, **values)


def vm_row(
    cluster: Cluster, node: Node | None, vmid: int, *, now: datetime, **fields: Any
) -> VirtualMachine:
    """An unsaved guest with sensible defaults (for ``bulk_create``)."""
    values: dict[str, Any] = {
        "kind": "qemu",
        "name": f"vm-{vmid}",
        "status": "running",
        "tags": [],
        "tags_text": "",
        "first_seen": now - timedelta(days=90),
        "last_seen": now,
        "last_running": now,
    }
    values.update(fields)
    return VirtualMachine(cluster=cluster, node=node, vmid=vmid, **values)


def make_estate(name: str = "pve-test") -> dict[str, Any]:
    """One cluster, two nodes, one storage, three guests with ledgers around the first."""
    now = timezone.now()
    cluster = make_cluster(name)
    node1 = Node.objects.create(
        cluster=cluster, name="node1", status="online", first_seen=now, last_seen=now
    )
    node2 = Node.objects.create(
        cluster=cluster, name="node2", status="online", first_seen=now, last_seen=now
    )
    storage = Storage.objects.create(
        cluster=cluster,
        name="local-lvm",
        plugintype="lvmthin",
        content=["images"],
        first_seen=now,
        last_seen=now,
    )
    StorageNodeStatus.objects.create(
        storage=storage, node=node1, status="available", disk=1, maxdisk=10, updated_at=now
    )
    web = vm_row(
        cluster,
        node1,
        100,
        now=now,
        name="web-1",
        tags=["prod", "web"],
        tags_text="prod;web",
        smbios_uuid="11111111-2222-3333-4444-555555555555",
        config={"name": "web-1", "memory": "2048"},
        config_digest="d1",
        config_read_at=now,
    )
    web.save()
    template = vm_row(
        cluster, node2, 9000, now=now, name="tpl-debian", template=True, status="stopped"
    )
    template.save()
    old = vm_row(
        cluster,
        node2,
        101,
        now=now,
        name="old-db",
        status="stopped",
        last_running=now - timedelta(days=60),
        smbios_uuid=web.smbios_uuid,
    )
    old.save()
    GuestNic.objects.create(
        vm=web, key="net0", mac="BC:24:11:00:00:01", model="virtio", bridge="vmbr0"
    )
    GuestNic.objects.create(
        vm=old, key="net0", mac="BC:24:11:00:00:01", model="virtio", bridge="vmbr0"
    )
    GuestDisk.objects.create(
        vm=web,
        key="scsi0",
        storage=storage,
        storage_name="local-lvm",
        volume="local-lvm:vm-100-disk-0",
        size=10,
    )
    GuestDisk.objects.create(vm=web, key="ide2", is_cdrom=True, media="local:iso/debian.iso")
    GuestDevice.objects.create(vm=web, key="usb0", kind="usb", value="host=1234:5678")
    Copy.objects.create(
        vm=web,
        cluster=cluster,
        source_vmid=100,
        kind=CopyKind.SNAPSHOT,
        name="before-upgrade",
        created_at=now,
        vmstate=True,
    )
    Copy.objects.create(
        vm=web,
        cluster=cluster,
        source_vmid=100,
        kind=CopyKind.SNAPSHOT,
        name="after-upgrade",
        parent="before-upgrade",
        created_at=now,
    )
    Copy.objects.create(
        vm=web,
        cluster=cluster,
        source_vmid=100,
        kind=CopyKind.BACKUP,
        name="local:backup/vzdump-qemu-100.vma.zst",
        storage=storage,
        storage_class="approved",
        size=5,
        created_at=now,
    )
    Residency.objects.create(
        vm=web,
        node=node2,
        started_at=now - timedelta(days=2),
        ended_at=now - timedelta(days=1),
        cause=ResidencyCause.DISCOVERED,
    )
    Residency.objects.create(
        vm=web,
        node=node1,
        started_at=now - timedelta(days=1),
        cause=ResidencyCause.MIGRATE,
        task_upid="UPID:node2:1:2:3:qmigrate:100:root@pam:",
    )
    Lineage.objects.create(parent=template, child=web, kind=LineageKind.CLONE, detected_at=now)
    Rollback.objects.create(
        vm=web,
        detected_at=now,
        snapshot_name="before-upgrade",
        source=RollbackSource.TASK,
        task_upid="UPID:node1:9:9:9:qmrollback:100:root@pam:",
    )
    ProxmoxTask.objects.create(
        cluster=cluster,
        upid="UPID:node1:1:1:1:qmstart:100:root@pam:",
        node="node1",
        type="qmstart",
        vmid=100,
        user="root@pam",
        starttime=now,
        endtime=now,
        status="OK",
    )
    SyncRun.objects.create(
        cluster=cluster,
        started_at=now,
        finished_at=now,
        status="ok",
        stats={"guests_seen": 3, "api_calls": {"GET /cluster/resources": 1}},
    )
    return {
        "cluster": cluster,
        "nodes": [node1, node2],
        "storage": storage,
        "web": web,
        "template": template,
        "old": old,
    }
