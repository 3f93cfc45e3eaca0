"""Sync entry points: the Celery tasks, ``manage.py sync`` and ``register_demo_clusters``."""

import json
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inventory.models import Cluster, SyncRun, VirtualMachine
from inventory.sync import tasks
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.django_db


def test_sync_cluster_task_runs_one_sync(sim, cluster_for):
    cluster = cluster_for(sim)
    assert tasks.sync_cluster(cluster.pk) == "ok"
    assert VirtualMachine.objects.filter(cluster=cluster).count() == 30
    cluster.refresh_from_db()
    assert (cluster.last_sync_status, cluster.pve_version[:1]) == ("ok", "9")


def test_sync_cluster_task_skips_disabled_and_leased_clusters(sim, cluster_for):
    cluster = cluster_for(sim, enabled=False)
    assert tasks.sync_cluster(cluster.pk) == "skipped"
    Cluster.objects.filter(pk=cluster.pk).update(
        enabled=True, sync_lock_until=timezone.now() + timedelta(minutes=5)
    )
    assert tasks.sync_cluster(cluster.pk) == "skipped"
    assert not SyncRun.objects.exists()


def test_sync_all_fans_out_to_idle_enabled_clusters(make_sim, cluster_for):
    idle, busy, off, expired = (cluster_for(make_sim()) for _ in range(4))
    now = timezone.now()
    Cluster.objects.filter(pk=busy.pk).update(sync_lock_until=now + timedelta(minutes=5))
    Cluster.objects.filter(pk=expired.pk).update(sync_lock_until=now - timedelta(seconds=1))
    Cluster.objects.filter(pk=off.pk).update(enabled=False)
    with mock.patch.object(tasks.sync_cluster, "delay") as delay:
        queued = tasks.sync_all()
    assert sorted(queued) == sorted([idle.pk, expired.pk])
    assert sorted(c.args[0] for c in delay.call_args_list) == sorted(queued)


def test_beat_runs_the_fan_out_every_interval(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["inventory-sync-all"]
    assert entry["task"] == tasks.sync_all.name
    assert entry["schedule"] == float(settings.STEWARD_SYNC_INTERVAL)


def test_sync_command_prints_a_summary(make_sim, cluster_for):
    first, second = make_sim(pve="9"), make_sim(pve="8")
    cluster_for(first)
    cluster_for(second)
    out, err = StringIO(), StringIO()
    call_command("sync", "--full", stdout=out, stderr=err)
    text = out.getvalue()
    for name in (first.name, second.name):
        assert f"{name}: ok in" in text
    assert "guests seen: 30" in text
    assert "ledger rows: residency 30" in text
    assert "GET /cluster/resources" in text
    assert "configs" in err.getvalue()  # the progress bar
    assert SyncRun.objects.filter(full=True).count() == 2


def test_sync_command_reports_a_failed_cluster(sim, cluster_for):
    cluster_for(sim, token_secret="wrong")
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 1 cluster syncs failed"):
        call_command("sync", "--cluster", sim.name, stdout=out, stderr=StringIO())
    assert "failed" in out.getvalue()
    assert "token was refused" in out.getvalue()
    with pytest.raises(CommandError, match="no cluster named"):
        call_command("sync", "--cluster", "nope", stdout=StringIO())


def _info(sims, path):
    clusters = [
        {
            "name": s.name,
            "url": f"{s.url}/api2/json",
            "fingerprint": fingerprint_of_file(s.cert_file),
            "token_id": s.token_id,
            "token_secret": s.token_secret,
        }
        for s in sims
    ]
    path.write_text(json.dumps({"clusters": clusters}))
    return path


def test_register_demo_clusters_is_idempotent(
    make_sim, tmp_path, django_capture_on_commit_callbacks
):
    sims = [make_sim(pve="9"), make_sim(pve="8")]
    info = _info(sims, tmp_path / "pvesim.json")
    # The patch must outlive the capture, which runs the callbacks as it exits.
    with (
        mock.patch.object(tasks.sync_cluster, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as queued,
    ):
        call_command("register_demo_clusters", "--info", str(info), stdout=StringIO())
        out = StringIO()
        call_command("register_demo_clusters", "--info", str(info), stdout=out)
    assert sorted(Cluster.objects.values_list("name", flat=True)) == sorted(s.name for s in sims)
    assert "updated (PVE 8" in out.getvalue()
    assert len(queued) == 4  # a first sync per registration, another per refresh
    assert delay.call_count == 4


def test_register_demo_clusters_explains_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="is pvesim running"):
        call_command("register_demo_clusters", "--info", str(tmp_path / "none.json"))
