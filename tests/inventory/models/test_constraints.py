"""The invariants the inventory models enforce in the database itself."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.models import Cluster, Lineage, Node, Residency, VirtualMachine

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster() -> Cluster:
    return Cluster.objects.create(
        name="alpha", api_url="https://127.0.0.1:8006", token_id="a@pve!t", token_secret="s"
    )


def make_vm(cluster: Cluster, vmid: int = 100, **fields) -> VirtualMachine:
    now = timezone.now()
    return VirtualMachine.objects.create(
        cluster=cluster, vmid=vmid, kind="qemu", first_seen=now, last_seen=now, **fields
    )


def test_the_token_secret_is_encrypted_at_rest(cluster) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT token_secret FROM inventory_cluster WHERE id = %s", [cluster.pk])
        (stored,) = cursor.fetchone()
    assert stored != "s"
    assert Cluster.objects.get(pk=cluster.pk).token_secret == "s"


def test_one_live_guest_per_vmid_but_gone_rows_stay(cluster) -> None:
    old = make_vm(cluster)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_vm(cluster)
    old.gone_since = timezone.now()
    old.save(update_fields=["gone_since"])
    make_vm(cluster)
    assert VirtualMachine.objects.filter(vmid=100).count() == 2


def test_one_open_residency_per_guest(cluster) -> None:
    vm = make_vm(cluster)
    now = timezone.now()
    node = Node.objects.create(cluster=cluster, name="pve1", first_seen=now, last_seen=now)
    Residency.objects.create(vm=vm, node=node, started_at=now, cause="discovered")
    with pytest.raises(IntegrityError), transaction.atomic():
        Residency.objects.create(vm=vm, node=node, started_at=now, cause="start")
    Residency.objects.filter(vm=vm).update(ended_at=now)
    Residency.objects.create(vm=vm, node=node, started_at=now, cause="start")


def test_a_guest_is_not_its_own_parent(cluster) -> None:
    vm = make_vm(cluster)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lineage.objects.create(parent=vm, child=vm, kind="clone", detected_at=timezone.now())
