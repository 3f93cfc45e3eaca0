"""``cluster_sync``: the per-cluster lease, the run record, and failures inside Steward."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from inventory.models import Cluster, SyncRun, VirtualMachine
from inventory.sync import service
from inventory.sync.service import cluster_sync, sync_lock_acquire, sync_lock_release

pytestmark = pytest.mark.django_db


def test_the_lease_admits_one_sync_and_expires(cluster_for, sim) -> None:
    cluster = cluster_for(sim)
    now = timezone.now()
    assert sync_lock_acquire(cluster_id=cluster.pk, now=now)
    assert not sync_lock_acquire(cluster_id=cluster.pk, now=now + timedelta(minutes=1))
    # A worker killed mid-sync does not block the cluster for ever.
    assert sync_lock_acquire(cluster_id=cluster.pk, now=now + service.LEASE + timedelta(seconds=1))
    sync_lock_release(cluster_id=cluster.pk)
    assert sync_lock_acquire(cluster_id=cluster.pk, now=now)


def test_a_held_cluster_is_skipped_without_a_run(cluster_for, sim) -> None:
    cluster = cluster_for(sim)
    assert sync_lock_acquire(cluster_id=cluster.pk, now=timezone.now())
    assert cluster_sync(cluster_id=cluster.pk) is None
    assert not SyncRun.objects.exists()


def test_the_run_exists_and_is_running_before_any_read(cluster_for, sim) -> None:
    cluster = cluster_for(sim)
    seen = []

    def progress(step, done, total):
        run = SyncRun.objects.get(cluster=cluster)
        seen.append((step, run.status, Cluster.objects.get(pk=cluster.pk).last_sync_status))

    run = cluster_sync(cluster_id=cluster.pk, progress=progress)
    assert seen
    assert {(status, last) for _, status, last in seen} == {("running", "running")}
    assert (run.status, run.finished_at is not None) == ("ok", True)
    cluster.refresh_from_db()
    assert (cluster.last_sync_status, cluster.sync_lock_until) == ("ok", None)
    assert run.stats["guests_created"] == len(sim.cluster.estate.guests)
    assert run.stats["api_calls"]["GET /cluster/resources"] == 1


def test_a_bug_in_the_apply_fails_the_run_keeps_the_data_and_frees_the_cluster(
    cluster_for, sim
) -> None:
    cluster = cluster_for(sim)
    cluster_sync(cluster_id=cluster.pk)
    before = VirtualMachine.objects.count()
    with mock.patch.object(service, "changeset_apply", side_effect=RuntimeError("boom")):
        run = cluster_sync(cluster_id=cluster.pk, full=True)
    assert run.status == "failed"
    assert "RuntimeError: boom" in run.error
    assert "Traceback" in run.log
    cluster.refresh_from_db()
    assert (cluster.last_sync_status, cluster.last_sync_error) == ("failed", run.error)
    assert cluster.sync_lock_until is None
    assert VirtualMachine.objects.count() == before
    assert cluster_sync(cluster_id=cluster.pk).status == "ok"
