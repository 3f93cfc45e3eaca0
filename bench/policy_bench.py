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

from bench.policy_estate import inventory_bench, policies, seed_policy_data  # noqa: E402


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
        seeded = inventory_bench()._seed(args.guests)
        seeded.update(seed_policy_data())
        names = list(Cluster.objects.order_by("name").values_list("name", flat=True))
        for document in policies(names):
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
