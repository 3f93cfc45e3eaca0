"""Celery tasks of the inventory sync: one task per cluster, and beat's fan-out.

Tasks take ids and call one service (``inventory.sync.service.cluster_sync``), which
owns the run record, the per-cluster lease and error handling. Nothing here sleeps or
retries: a cluster that is still syncing is skipped, and beat offers it again next
round (``STEWARD_SYNC_INTERVAL``).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from inventory.models import Cluster
from inventory.sync.service import cluster_sync

logger = logging.getLogger(__name__)


@shared_task(name="inventory.sync.tasks.sync_cluster")
def sync_cluster(cluster_id: int, full: bool = False) -> str:
    """Sync one enabled cluster now; returns the run's status, or ``skipped``."""
    if not Cluster.objects.filter(pk=cluster_id, enabled=True).exists():
        logger.info("sync of cluster %s skipped: unknown or disabled", cluster_id)
        return "skipped"
    run = cluster_sync(cluster_id=cluster_id, full=full)
    return str(run.status) if run is not None else "skipped"


@shared_task(name="inventory.sync.tasks.sync_all")
def sync_all() -> list[int]:
    """Beat's entry: queue one sync per enabled cluster whose sync lease is free.

    A held lease means a sync of that cluster is running; queueing another would only
    pile up tasks that skip themselves, so the cluster waits for the next round.
    """
    now = timezone.now()
    enabled = Cluster.objects.filter(enabled=True)
    idle = enabled.filter(Q(sync_lock_until__isnull=True) | Q(sync_lock_until__lt=now))
    queued = list(idle.values_list("pk", flat=True))
    skipped = enabled.exclude(pk__in=queued).values_list("name", flat=True)
    for name in skipped:
        logger.info("cluster %s still syncing; skipped this round", name)
    for cluster_id in queued:
        sync_cluster.delay(cluster_id)
    return queued
