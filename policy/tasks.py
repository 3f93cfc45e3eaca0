"""Celery tasks of the policy engine. Each takes ids and calls one service.

A remediation step never sleeps: ``remediation_run`` does one step and, when the step
asks for another (a task to poll, a locked guest to retry), re-queues itself with that
countdown. ``remediations_due`` (beat) re-queues what a lost message or a restarted
worker left behind, so a remediation cannot be forgotten.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from inventory.models import Cluster
from policy.models import Remediation, RemediationRunState
from policy.remediation import remediation_step

logger = logging.getLogger(__name__)


@shared_task(name="policy.tasks.remediation_run")
def remediation_run(remediation_id: int) -> str:
    """One step of one remediation; re-queued while it has more to do."""
    step = remediation_step(remediation_id=remediation_id)
    if step.again_in is not None:
        remediation_run.apply_async(args=[remediation_id], countdown=max(step.again_in, 1))
    return step.state


@shared_task(name="policy.tasks.remediations_due")
def remediations_due() -> list[int]:
    """Beat: queue pending remediations whose time has come and running ones with a task
    to poll that nobody polled for a while."""
    now = timezone.now()
    due = Remediation.objects.filter(dry_run=False).filter(
        Q(state=RemediationRunState.PENDING)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        | Q(state=RemediationRunState.RUNNING, started_at__lt=now - timedelta(minutes=2))
    )
    ids = list(due.values_list("pk", flat=True)[:500])
    for remediation_id in ids:
        remediation_run.delay(remediation_id)
    return ids


@shared_task(name="policy.tasks.reconcile_cluster")
def reconcile_cluster(cluster_id: int) -> int:
    """Evaluate and remediate one cluster (after its sync, or from beat)."""
    from policy.services.reconcile import reconcile

    if not Cluster.objects.filter(pk=cluster_id, enabled=True).exists():
        return 0
    result = reconcile(cluster_id=cluster_id)
    return len(getattr(result, "findings", ()) or ())


@shared_task(name="policy.tasks.reconcile_all")
def reconcile_all() -> list[int]:
    """Beat: a reconcile per enabled cluster, also when no sync finished (time-based
    rules such as snapshot age and leases change with the clock alone)."""
    ids = list(Cluster.objects.filter(enabled=True).values_list("pk", flat=True))
    for cluster_id in ids:
        reconcile_cluster.delay(cluster_id)
    return ids


@shared_task(name="policy.tasks.exemptions_expire")
def exemptions_expire() -> int:
    from policy.services.exemptions import exemptions_expire as expire

    return len(expire(now=timezone.now()))


@shared_task(name="policy.tasks.rights_sync")
def rights_sync_cluster(cluster_id: int) -> dict[str, int]:
    from policy.services.rights import rights_sync

    if not Cluster.objects.filter(pk=cluster_id, enabled=True).exists():
        return {}  # removed or disabled since the sync was queued
    return rights_sync(cluster_id=cluster_id).counts()


@shared_task(name="policy.tasks.rights_sync_all")
def rights_sync_all() -> list[int]:
    ids = list(Cluster.objects.filter(enabled=True).values_list("pk", flat=True))
    for cluster_id in ids:
        rights_sync_cluster.delay(cluster_id)
    return ids
