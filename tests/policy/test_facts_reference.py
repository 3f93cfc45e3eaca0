"""facts_load against a plain reference read: the fast path (joins, grouped tuples, epoch
timestamps, UUID clashes counted in Python, MAC clashes from the index) must produce
exactly the facts a straightforward ORM walk over the same estate does, and therefore
the same findings."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from django.db.models import Max, Q
from django.utils import timezone

from governance.accounts.models import Team
from governance.ownership.models import Ownership
from inventory.models import (
    Copy,
    CopyKind,
    GuestDevice,
    GuestDisk,
    GuestNic,
    Lineage,
    LineageKind,
    Node,
    Rollback,
    RollbackSource,
    VirtualMachine,
)
from policy.evaluation import evaluate_fleet
from policy.facts import (
    FACETS,
    CopyFact,
    DeviceFact,
    DiskFact,
    IdentityClash,
    RollbackFact,
    VmFacts,
    exemptions_load,
    facts_load,
)
from policy.models import PatchConfirmation, Policy
from policy.rules import PolicySpec, facets_for
from policy.services import policy_save
from tests.factories import UserFactory
from tests.inventory.estate import make_cluster, make_estate, vm_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def estates():
    """Two clusters (their guests share a UUID and a MAC across clusters) with owners,
    leases, patch confirmations around rollbacks, clones, extra disks and a gone guest."""
    now = timezone.now()
    first = make_estate("pve-a")
    second = {"cluster": make_cluster("pve-b")}
    node = Node.objects.create(
        cluster=second["cluster"], name="b1", status="online", first_seen=now, last_seen=now
    )
    second["web"] = vm_row(
        second["cluster"], node, 100, now=now, smbios_uuid=first["web"].smbios_uuid
    )
    second["web"].save()
    GuestNic.objects.create(vm=second["web"], key="net0", mac="BC:24:11:00:00:01")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    team = Team.objects.create(name="Ops", slug="ops")
    web, old = first["web"], first["old"]
    Ownership.objects.create(
        vm=web, owner=alice, custodian=bob, team=team, since=web.first_seen, source="admin"
    )
    Ownership.objects.create(
        vm=old,
        owner=bob,
        since=old.first_seen,
        until=now - timedelta(days=3),
        source="admin",
    )
    Ownership.objects.create(
        vm=old,
        owner=alice,
        since=now - timedelta(days=3),
        lease_end=(now - timedelta(days=2)).date(),
        source="admin",
    )
    GuestDisk.objects.create(
        vm=web, key="scsi1", storage_name="usb-disk", volume="usb-disk:vm-100-disk-1"
    )
    GuestDevice.objects.create(vm=old, key="serial0", kind="serial", value="/dev/ttyS0")
    Copy.objects.create(
        vm=old,
        cluster=first["cluster"],
        source_vmid=101,
        kind=CopyKind.SNAPSHOT,
        name="ancient",
        created_at=now - timedelta(days=400, microseconds=123457),
        vmstate=True,
    )
    Copy.objects.create(
        vm=old,
        cluster=first["cluster"],
        source_vmid=101,
        kind=CopyKind.SNAPSHOT,
        name="deleted",
        created_at=now,
        deleted_at=now,
    )
    # second's web: a rollback before and one after its last patch confirmation.
    web_b = second["web"]
    PatchConfirmation.objects.create(
        vm=web_b, confirmed_by=alice, confirmed_at=now - timedelta(hours=1)
    )
    Rollback.objects.create(
        vm=web_b, detected_at=now - timedelta(hours=2), source=RollbackSource.VMGENID_CHANGE
    )
    Rollback.objects.create(vm=web_b, detected_at=now, source=RollbackSource.TASK)
    clone = VirtualMachine.objects.create(
        cluster=second["cluster"],
        vmid=102,
        name="clone",
        status="running",
        first_seen=now,
        last_seen=now,
        tags=["web"],
        tags_text="web",
    )
    Lineage.objects.create(parent=web_b, child=clone, kind=LineageKind.CLONE, detected_at=now)
    gone = VirtualMachine.objects.create(
        cluster=second["cluster"],
        vmid=103,
        name="gone",
        first_seen=now,
        last_seen=now,
        gone_since=now,
        smbios_uuid="99999999-0000-0000-0000-000000000000",
    )
    GuestNic.objects.create(vm=gone, key="net0", mac="BC:24:11:00:00:99")
    GuestNic.objects.create(vm=clone, key="net0", mac="BC:24:11:00:00:99")
    GuestNic.objects.create(vm=clone, key="net1", mac="BC:24:11:00:00:77")
    GuestNic.objects.create(vm=clone, key="net2", mac="BC:24:11:00:00:77")
    Lineage.objects.create(parent=web_b, child=gone, kind=LineageKind.CLONE, detected_at=now)
    return first, second


def reference(cluster_id: int | None = None) -> dict[int, VmFacts]:
    """Every live guest read one model instance at a time (slow, obviously right)."""
    guests = VirtualMachine.objects.filter(gone_since__isnull=True).select_related("node")
    if cluster_id is not None:
        guests = guests.filter(cluster_id=cluster_id)
    result = {}
    for vm in guests:
        current = vm.ownerships.filter(until__isnull=True).first()
        confirmed = vm.patch_confirmations.aggregate(last=Max("confirmed_at"))["last"]
        children = Lineage.objects.filter(parent=vm, child__gone_since__isnull=True)
        result[vm.pk] = VmFacts(
            id=vm.pk,
            cluster_id=vm.cluster_id,
            vmid=vm.vmid,
            name=vm.name,
            kind=vm.kind,
            node=vm.node.name if vm.node else "",
            status=vm.status,
            tags=frozenset(vm.tags_text.split(";")) if vm.tags_text else frozenset(),
            pool=vm.pool,
            template=vm.template,
            lock=vm.lock,
            hastate=vm.hastate,
            classification=vm.classification,
            vmgenid=vm.vmgenid,
            smbios_uuid=vm.smbios_uuid,
            has_rng=vm.has_rng,
            config_digest=vm.config_digest,
            first_seen=vm.first_seen,
            last_running=vm.last_running,
            owner_id=current.owner_id if current else None,
            custodian_id=current.custodian_id if current else None,
            team_id=current.team_id if current else None,
            lease_end=current.lease_end if current else None,
            devices=tuple(sorted(DeviceFact(d.key, d.kind, d.value) for d in vm.devices.all())),
            disks=tuple(
                sorted(
                    DiskFact(d.key, d.storage_name, d.volume)
                    for d in vm.disks.filter(is_cdrom=False)
                )
            ),
            copies=tuple(
                sorted(
                    CopyFact(
                        c.kind,
                        c.name,
                        c.storage_name,
                        c.storage_class,
                        c.node,
                        c.created_at,
                        c.vmstate,
                        c.size,
                    )
                    for c in Copy.objects.filter(vm=vm, deleted_at__isnull=True)
                )
            ),
            rollbacks=tuple(
                sorted(
                    RollbackFact(r.detected_at, r.source, r.snapshot_name, r.task_upid)
                    for r in vm.rollbacks.all()
                    if confirmed is None or r.detected_at > confirmed
                )
            ),
            patch_confirmed_at=confirmed,
            clones=children.exclude(kind=LineageKind.TEMPLATE_OF).count(),
            templates=children.filter(
                Q(kind=LineageKind.TEMPLATE_OF) | Q(child__template=True)
            ).count(),
            disk_storages=frozenset(d.storage_name for d in vm.disks.filter(is_cdrom=False)),
        )
    return result


def reference_clashes() -> dict[int, set[IdentityClash]]:
    live = list(VirtualMachine.objects.filter(gone_since__isnull=True))
    by_uuid = defaultdict(list)
    for vm in live:
        if vm.smbios_uuid:
            by_uuid[vm.smbios_uuid].append(vm.pk)
    clashes: dict[int, set[IdentityClash]] = defaultdict(set)
    for uuid, ids in by_uuid.items():
        for pk in ids:
            if len(ids) > 1:
                others = tuple(sorted(i for i in ids if i != pk))
                clashes[pk].add(IdentityClash("uuid", "", uuid, others))
    by_mac = defaultdict(list)
    for nic in GuestNic.objects.filter(vm__gone_since__isnull=True).exclude(mac=""):
        by_mac[nic.mac].append((nic.vm_id, nic.key))
    for mac, holders in by_mac.items():
        for pk, key in holders:
            others = tuple(sorted({i for i, _ in holders if i != pk}))
            if others:
                clashes[pk].add(IdentityClash("mac", key, mac, others))
    return clashes


def ordered(vm: VmFacts) -> VmFacts:
    """Child rows come in database order; compare them sorted."""
    return vm._replace(
        devices=tuple(sorted(vm.devices)),
        disks=tuple(sorted(vm.disks)),
        copies=tuple(sorted(vm.copies)),
        rollbacks=tuple(sorted(vm.rollbacks)),
    )


def test_the_fleet_read_matches_the_reference_read(estates) -> None:
    facts = facts_load()
    assert {vm.id: ordered(vm) for vm in facts.vms} == reference()
    clashes = {pk: set(items) for pk, items in facts.identity_clashes.items()}
    assert clashes == reference_clashes()
    # The estate exercises what the fast path special-cases.
    web_b = estates[1]["web"]
    by_id = {vm.id: vm for vm in facts.vms}
    assert by_id[web_b.pk].clones == 1  # the gone clone does not count
    assert [r.source for r in by_id[web_b.pk].rollbacks] == ["task"]
    assert {c.what for c in clashes[web_b.pk]} == {"uuid", "mac"}
    clone = VirtualMachine.objects.get(vmid=102)
    assert clone.pk not in clashes  # shares a MAC with a gone guest and with itself only


def test_a_cluster_read_matches_the_reference_and_keeps_estate_wide_clashes(estates) -> None:
    first = estates[0]["cluster"]
    facts = facts_load(cluster_id=first.pk)
    assert {vm.id: ordered(vm) for vm in facts.vms} == reference(first.pk)
    wanted = {vm.id for vm in facts.vms}
    expected = {pk: items for pk, items in reference_clashes().items() if pk in wanted}
    assert {pk: set(items) for pk, items in facts.identity_clashes.items()} == expected
    assert any(
        other not in wanted
        for items in expected.values()
        for clash in items
        for other in clash.others
    )


def test_facets_not_asked_for_stay_empty_and_the_rest_is_unchanged(estates) -> None:
    full = {vm.id: vm for vm in facts_load().vms}
    bare = facts_load(facets=())
    assert bare.identity_clashes == {}
    for vm in bare.vms:
        assert (vm.devices, vm.disks, vm.copies, vm.rollbacks) == ((), (), (), ())
        assert (vm.clones, vm.templates, vm.patch_confirmed_at) == (0, 0, None)
        assert vm[:23] == full[vm.id][:23]  # placement, config and ownership always read
    with pytest.raises(ValueError, match="Unknown facts facets"):
        facts_load(facets=("disks", "nics"))


def test_findings_from_the_facets_the_policies_need_equal_those_from_all(estates) -> None:
    for document in (
        {"name": "media", "kind": "no_removable_media"},
        {"name": "pin", "kind": "host_pinning", "parameters": {"allowed_nodes": ["node1"]}},
        {"name": "copies", "kind": "copy_limits", "parameters": {"max_clones": 0}},
        {"name": "life", "kind": "data_lifetime", "parameters": {"max_snapshot_age_days": 30}},
        {"name": "roll", "kind": "rollback_awareness"},
        {"name": "ids", "kind": "identity_conflicts"},
        {"name": "lease", "kind": "lease_expired"},
    ):
        scope = {"clusters": ["pve-a", "pve-b"]}
        policy_save(actor=None, document={"mode": "audit", "scope": scope, **document})
    specs = [PolicySpec.of(p) for p in Policy.objects.all()]
    now = timezone.now()
    every = evaluate_fleet(specs, facts_load(now=now), exemptions_load(now=now), now)
    needed = facts_load(now=now, facets=facets_for(specs))
    assert facets_for(specs) < FACETS  # "remembered" is not needed here
    narrow = evaluate_fleet(specs, needed, exemptions_load(now=now), now)
    assert every == narrow
    assert {f.policy_kind for f in every} >= {
        "no_removable_media",
        "copy_limits",
        "data_lifetime",
        "rollback_awareness",
        "identity_conflicts",
        "lease_expired",
    }
