"""A failing or lying cluster: every failure is a clear sync error and loses nothing.

Each test syncs a simulated cluster once (the baseline), breaks it through pvesim's
control API or its real API, syncs again, and checks the run's status and message, the
cluster's ``last_sync_error``, and that the inventory still holds the baseline.
"""

import dataclasses
import math
from unittest import mock

import pytest

from inventory.models import Cluster, GuestNic, SyncRun, VirtualMachine
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from inventory.sync.service import cluster_sync

pytestmark = pytest.mark.django_db


def baseline(sim, cluster_for, **fields):
    cluster = cluster_for(sim, **fields)
    run = cluster_sync(cluster_id=cluster.pk)
    assert (run.status, run.error) == ("ok", "")
    return cluster, _snapshot(cluster)


def _snapshot(cluster):
    """What must survive a failed or partial sync: live guests and their parsed facts."""
    guests = VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=True)
    return {
        "guests": sorted(guests.values_list("vmid", "node__name", "config_digest")),
        "macs": sorted(GuestNic.objects.filter(vm__cluster=cluster).values_list("mac", flat=True)),
    }


def resync(cluster, **kwargs):
    run = cluster_sync(cluster_id=cluster.pk, **kwargs)
    cluster.refresh_from_db()
    assert cluster.last_sync_status == run.status
    assert cluster.last_sync_error == run.error
    return run


def test_truncated_json_fails_the_run_and_changes_nothing(sim, cluster_for):
    cluster, before = baseline(sim, cluster_for)
    sim.control("POST", "corrupt", mode="truncate", prefix="/cluster/resources")
    run = resync(cluster)
    assert run.status == "failed"
    assert "guests, nodes and storage" in run.error
    assert "not JSON" in run.error
    assert _snapshot(cluster) == before
    assert resync(cluster).status == "ok"  # the next cycle recovers on its own


def test_garbage_in_guest_configs_is_partial_and_keeps_stored_configs(sim, cluster_for):
    cluster, before = baseline(sim, cluster_for)
    sim.control("POST", "corrupt", mode="garbage", prefix="/nodes/", count=-1)
    run = resync(cluster, full=True)
    assert run.status == "partial"
    assert "guest configs could not be read" in run.error
    assert "not JSON" in run.error
    assert _snapshot(cluster) == before


def test_timeouts_mid_sync_stop_the_per_guest_reads_quickly(sim, cluster_for):
    cluster, before = baseline(sim, cluster_for)
    sim.control("POST", "latency", seconds=1.0, prefix="/nodes/")

    def short_timeout(stored):
        return dataclasses.replace(cluster_endpoint(stored), timeout=0.3)

    with mock.patch("inventory.sync.service.cluster_endpoint", short_timeout):
        run = resync(cluster, full=True)
    assert run.status == "partial"
    assert "did not answer in time" in run.error
    assert "stopped reading" in run.error
    calls = run.stats["api_calls"]
    assert calls.get("GET /nodes/{node}/qemu/{vmid}/config", 0) < 30  # gave up early
    assert _snapshot(cluster) == before


def test_unreachable_cluster_fails_with_a_clear_message(sim, cluster_for):
    cluster, before = baseline(sim, cluster_for)
    sim.control("POST", "errors", status=500, count=-1, prefix="/", message="cluster not ready")
    run = resync(cluster)
    assert run.status == "failed"
    assert "could not read the version" in run.error
    assert "cluster not ready" in run.error
    assert _snapshot(cluster) == before


def test_token_losing_its_rights_mid_sync(sim, cluster_for):
    cluster, before = baseline(sim, cluster_for)
    revoked = []

    def revoke_on_first_config(step, done, total):
        if step == "configs" and not revoked:
            sim.revoke_token_rights()
            revoked.append(done)

    run = resync(cluster, full=True, progress=revoke_on_first_config)
    assert revoked
    assert run.status == "partial"
    assert "Permission check failed" in run.error or "HTTP 403" in run.error
    assert _snapshot(cluster) == before
    # Next cycle the token sees no guests at all (HTTP 200, empty list): not a deletion.
    run = resync(cluster)
    assert run.status == "partial"
    assert "lost its rights" in run.error
    assert _snapshot(cluster) == before


def test_duplicate_vmid_during_a_migration(sim, cluster_for):
    cluster, before = baseline(sim, cluster_for)
    sim.control("POST", "corrupt", mode="duplicate-guest", prefix="/cluster/resources")
    run = resync(cluster)
    assert run.status == "partial"
    assert "is listed 2 times" in run.error
    assert _snapshot(cluster) == before
    assert VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=False).count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_clusters_sync_concurrently_one_failing(make_sim, cluster_for):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite has one writer at a time; CI runs this on PostgreSQL")
    good, bad = make_sim(), make_sim(pve="8")
    clusters = [cluster_for(good), cluster_for(bad)]
    bad.control("POST", "corrupt", mode="garbage", prefix="/cluster/resources", count=-1)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda c: cluster_sync(cluster_id=c.pk), clusters))
    assert [r.status for r in runs] == ["ok", "failed"]
    assert VirtualMachine.objects.filter(cluster=clusters[0]).count() == 30


@pytest.mark.parametrize("guests", [30, 240])
def test_steady_state_cost_does_not_grow_with_guests(make_sim, cluster_for, guests):
    sim = make_sim(guests=guests)
    cluster, _ = baseline(sim, cluster_for)
    run = resync(cluster)
    assert run.status == "ok"
    calls = dict(run.stats["api_calls"])
    per_guest = sum(count for key, count in calls.items() if "{vmid}" in key)
    storage = calls.pop("GET /nodes/{node}/storage/{storage}/content")
    fixed = {key: count for key, count in calls.items() if "{vmid}" not in key}
    assert per_guest == math.ceil(guests * 60 / 3600)  # the rolling share, configs only
    assert fixed == {
        "GET /version": 1,
        "GET /cluster/resources": 1,
        "GET /cluster/tasks": 1,
        "GET /cluster/backup": 1,
        "GET /cluster/ha/resources": 1,
        "GET /cluster/ha/rules": 1,
        "GET /access/acl": 1,
    }
    shared = {s for s, st in sim.cluster.estate.storages.items() if st.shared}
    assert storage <= len(shared) + len(sim.cluster.estate.storages) * len(sim.cluster.estate.nodes)
    assert SyncRun.objects.filter(cluster=cluster).count() == 2
    assert Cluster.objects.get(pk=cluster.pk).last_sync_error == ""


def test_rights_lost_on_one_pool_hide_guests_without_marking_them_gone(sim, cluster_for):
    cluster, before = baseline(sim, cluster_for)
    estate = sim.cluster.estate
    hidden = sorted(g.vmid for g in estate.guests.values() if g.pool == "research")
    destroyed = next(
        g
        for g in estate.guests.values()
        if g.pool != "research"
        and not g.running
        and not g.is_template
        and estate.ha_resource(g) is None
    )
    kind = destroyed.kind
    assert sim.api("DELETE", f"/nodes/{destroyed.node}/{kind}/{destroyed.vmid}").ok
    sim.advance(120)
    answer = sim.api(
        "PUT",
        "/access/acl",
        data={"path": "/pool/research", "roles": "NoAccess", "tokens": sim.token_id},
    )
    assert answer.ok, answer.text

    run = resync(cluster)
    assert run.status == "partial"
    assert "lost its rights on part of the estate" in run.error
    assert f"vmids {', '.join(map(str, hidden))}" in run.error
    gone = VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=False)
    assert list(gone.values_list("vmid", flat=True)) == [destroyed.vmid]
    # One confirmation read per guest missing from the list, none for the others.
    calls = run.stats["api_calls"]
    reads = sum(n for key, n in calls.items() if key.endswith("/status/current"))
    assert reads == len(hidden) + 1
    live = set(
        VirtualMachine.objects.filter(cluster=cluster, gone_since__isnull=True).values_list(
            "vmid", flat=True
        )
    )
    assert live == {vmid for vmid, *_ in before["guests"]} - {destroyed.vmid}


def test_guests_on_an_offline_node_missing_from_the_list_are_unknown_not_gone(sim, cluster_for):
    from inventory.sync.remote import Reader
    from inventory.sync.state import Absence
    from tests.inventory.sync.builders import local_guest

    cluster, _ = baseline(sim, cluster_for)
    node = next(iter(sim.cluster.estate.nodes))
    reader = Reader(ProxmoxGateway(cluster_endpoint(cluster)), progress=None)
    missing = [local_guest(1, 999, node), local_guest(2, 998, "elsewhere")]
    verdicts = reader.absent(missing, online={node}, migrated=set())
    assert verdicts == {999: Absence.GONE, 998: Absence.UNKNOWN}
    assert "could not be confirmed gone" in reader.errors[0]
    assert "998" in reader.errors[0]
