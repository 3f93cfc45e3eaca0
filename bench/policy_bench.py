"""Policy evaluation at 100,000 VMs against 20 policies, including the database read.

Seeds a scratch test database (PostgreSQL when ``DATABASE_URL`` is set, else SQLite)
with the inventory list benchmark's 100,000 guests in 100 clusters (3 nodes each, one
NIC each), then per guest one disk (1 % on removable storage), a USB device on 1 %, a
snapshot on 20 % (a tenth of them old, some with RAM state), a backup on 20 % (some on
removable storage), current ownership on 90 % (200 users, 20 teams, some leases past),
a few rollbacks and a removable-storage backup job per cluster; and 20 policies, two of
each kind, with scopes from one classification to every cluster.

Times, best and median of ``--repeat`` runs: the database read (``facts_load``), the pure
evaluation (``evaluate_fleet``), and both together (the target: under 2 s). Then the
first reconcile of the whole estate (recording every violation and telling owners,
custodians and team managers; audit mode so nothing is planned), a second one over the
unchanged estate (level-triggered: nothing new) and one more of the biggest cluster
(15,000 guests), and counts the findings. Last, a pvesim cluster is registered and
synced, and the Proxmox writes pvesim receives during a reconcile cycle that finds
nothing (an enforce policy pinning its guests to all its nodes) are counted: the target
is none. Prints one JSON object.

Usage: ``python bench/policy_bench.py [--guests N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
TARGET_SECONDS = 2.0
USERS = 200
TEAMS = 20


def _inventory_bench():
    spec = importlib.util.spec_from_file_location(
        "inventory_list_bench", ROOT / "bench" / "inventory_list_bench.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seed_policy_data() -> dict:
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


def _policies(cluster_names: list[str]) -> list[dict]:
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


def _proxmox_writes_noop() -> dict:
    """Sync a pvesim cluster, then count the writes pvesim receives while a reconcile cycle
    that finds nothing runs (an enforce policy allowing every node of the cluster)."""
    import hashlib
    import ssl

    from inventory.models import Cluster, Node
    from inventory.sync.service import cluster_sync
    from policy.services import policy_save, reconcile
    from pvesim.server import RequestHandler, default_certificate
    from pvesim.testing import SimFarm

    farm = SimFarm(certificate=default_certificate())
    try:
        sim = farm.start(identity="root")
        with open(sim.cert_file) as handle:
            der = ssl.PEM_cert_to_DER_cert(handle.read())
        cluster = Cluster.objects.create(
            name=sim.name,
            api_url=sim.url,
            token_id=sim.token_id,
            token_secret=sim.token_secret,
            fingerprint=hashlib.sha256(der).hexdigest(),
        )
        run = cluster_sync(cluster_id=cluster.pk, full=True)
        nodes = sorted(Node.objects.filter(cluster=cluster).values_list("name", flat=True))
        policy_save(
            actor=None,
            document={
                "name": "clean-pin",
                "kind": "host_pinning",
                "mode": "enforce",
                "scope": {"clusters": [cluster.name]},
                "parameters": {"allowed_nodes": nodes, "ha_pin": False},
            },
        )
        writes: list[tuple[str, str]] = []
        dispatch = RequestHandler._dispatch

        def counting(self, sim_cluster, method, api_path, *args):
            if method in ("POST", "PUT", "DELETE"):
                writes.append((method, api_path))
            return dispatch(self, sim_cluster, method, api_path, *args)

        RequestHandler._dispatch = counting
        try:
            clean = reconcile(cluster_id=cluster.pk, policy="clean-pin", trigger="bench")
        finally:
            RequestHandler._dispatch = dispatch
        return {
            "noop_cycle_sync": run.status if run else "skipped",
            "noop_cycle_guests": clean.guests,
            "noop_cycle_findings": len(clean.findings),
            "noop_cycle_planned": len(clean.planned),
            "proxmox_writes_noop": len(writes),
        }
    finally:
        farm.stop()


def _timed(fn, repeat: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(repeat):
        result = None  # free the previous run's facts or findings outside the clock
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return samples, result


def _figures(samples: list[float]) -> dict:
    return {"best_s": round(min(samples), 3), "median_s": round(statistics.median(samples), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    # Nobody listens for live pushes here: keep them off the SQLite channel layer's file.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print("creating the test database ...", file=sys.stderr)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from governance.notifications.models import Notification
        from inventory.models import Cluster
        from policy.evaluation import evaluate_fleet
        from policy.facts import exemptions_load, facts_load
        from policy.models import Policy, Violation
        from policy.rules import PolicySpec
        from policy.services import policy_save, reconcile

        started = time.perf_counter()
        seeded = _inventory_bench()._seed(args.guests)
        seeded.update(_seed_policy_data())
        names = list(Cluster.objects.order_by("name").values_list("name", flat=True))
        for document in _policies(names):
            policy_save(actor=None, document={**document, "mode": "audit"})
        seed_seconds = time.perf_counter() - started
        print(f"seeded {seeded} in {seed_seconds:.0f}s", file=sys.stderr)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        specs = [PolicySpec.of(p) for p in Policy.objects.all()]
        now = timezone.now()
        read, facts = _timed(lambda: facts_load(now=now), args.repeat)
        exemptions = exemptions_load(now=now)
        evaluate, findings = _timed(
            lambda: evaluate_fleet(specs, facts, exemptions, now), args.repeat
        )
        total, _ = _timed(
            lambda: evaluate_fleet(specs, facts_load(now=now), exemptions_load(now=now), now),
            args.repeat,
        )
        print(f"read {_figures(read)} evaluate {_figures(evaluate)}", file=sys.stderr)

        started = time.perf_counter()
        first = reconcile(trigger="bench")
        first_seconds = time.perf_counter() - started
        notices = Notification.objects.count()
        started = time.perf_counter()
        second = reconcile(trigger="bench")
        second_seconds = time.perf_counter() - started
        # The sync hook reconciles one cluster at a time: time the biggest one.
        biggest = Cluster.objects.get(name="pve-000")
        started = time.perf_counter()
        steady = reconcile(cluster_id=biggest.pk, trigger="bench")
        steady_seconds = time.perf_counter() - started
        print("counting Proxmox writes of a clean cycle on pvesim ...", file=sys.stderr)
        noop = _proxmox_writes_noop()
        by_kind: dict[str, int] = {}
        for finding in findings:
            by_kind[finding.policy_kind] = by_kind.get(finding.policy_kind, 0) + 1
        print(
            json.dumps(
                {
                    "database": connection.vendor,
                    "guests": len(facts.vms),
                    "policies": len(specs),
                    "seeded": seeded,
                    "seed_seconds": round(seed_seconds, 1),
                    "repeat": args.repeat,
                    "facts_load": _figures(read),
                    "evaluate_fleet": _figures(evaluate),
                    "read_and_evaluate": _figures(total),
                    "target_s": TARGET_SECONDS,
                    "meets_target": min(total) < TARGET_SECONDS,
                    "findings": len(findings),
                    "findings_by_kind": by_kind,
                    "first_reconcile_s": round(first_seconds, 2),
                    "first_reconcile_opened": len(first.record.opened),
                    "first_reconcile_notices": notices,
                    "noop_reconcile_s": round(second_seconds, 2),
                    "noop_reconcile_opened": len(second.record.opened),
                    "noop_reconcile_resolved": len(second.record.resolved_ids),
                    "reconcile_cluster_guests": steady.guests,
                    "reconcile_steady_cycle_s": round(steady_seconds, 2),
                    "reconcile_steady_opened": len(steady.record.opened),
                    "reconcile_steady_resolved": len(steady.record.resolved_ids),
                    **noop,
                    "open_violations": Violation.objects.filter(resolved_at__isnull=True).count(),
                }
            )
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
