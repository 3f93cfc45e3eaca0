"""The VM page lists the tasks of this guest only, across vmid reuse, plus its clone task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inventory.models import Cluster, Lineage, ProxmoxTask, VirtualMachine
from inventory.selectors.vm_page import tasks_for

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def guest(cluster: Cluster, vmid: int, *, seen: int, gone: int | None = None) -> VirtualMachine:
    return VirtualMachine.objects.create(
        cluster=cluster,
        vmid=vmid,
        kind="qemu",
        first_seen=at(seen),
        last_seen=at(seen),
        gone_since=at(gone) if gone is not None else None,
    )


def task(cluster: Cluster, kind: str, vmid: int, hour: int) -> ProxmoxTask:
    upid = f"UPID:pve1:00000001:00000001:{int(at(hour).timestamp()):08X}:{kind}:{vmid}:root@pam:"
    return ProxmoxTask.objects.create(
        cluster=cluster, upid=upid, node="pve1", type=kind, vmid=vmid, starttime=at(hour)
    )


def test_tasks_stay_with_the_guest_that_held_the_vmid():
    cluster = Cluster.objects.create(
        name="alpha", api_url="https://127.0.0.1:8006", token_id="a@pve!t", token_secret="s"
    )
    old = guest(cluster, 100, seen=0, gone=10)
    new = guest(cluster, 100, seen=12)
    template = guest(cluster, 9000, seen=0)
    old_start = task(cluster, "qmstart", 100, 2)
    old_destroy = task(cluster, "qmdestroy", 100, 9)
    clone = task(cluster, "qmclone", 9000, 11)
    new_start = task(cluster, "qmstart", 100, 13)
    task(cluster, "qmstart", 101, 13)
    Lineage.objects.create(
        parent=template, child=new, kind="template_of", task_upid=clone.upid, detected_at=at(12)
    )

    assert list(tasks_for(old)) == [old_destroy, old_start]
    assert list(tasks_for(new)) == [new_start, clone]
    assert clone in tasks_for(template)
