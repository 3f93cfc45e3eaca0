"""``cluster_sync``: one sync of one cluster (load remote -> load local -> diff -> apply),
then the guest agents' OS reads (``inventory.sync.osinfo``).

Invariants:

- One sync per cluster at a time, across processes and hosts: a lease on the cluster
  row (``sync_lock_until``) taken by one conditional UPDATE, which is atomic on
  PostgreSQL and SQLite alike and needs no connection held open for the whole run. A
  worker killed mid-sync leaves a lease that expires after ``LEASE``.
- The ``SyncRun`` row exists (``running``) before any read, and is finished exactly
  once: ``ok``, ``partial`` (some part was not read or its data was suspicious; the
  parts read were applied, nothing was marked gone because of the rest) or ``failed``
  (nothing or only the infrastructure was written; the message says why).
- The cluster's ``last_sync_*`` fields mirror the finished run.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inventory.models import (
    SYNC_RUN_TRANSITIONS,
    Cluster,
    SyncRun,
    SyncRunStatus,
    SyncStatus,
    VirtualMachine,
)
from inventory.proxmox import ProxmoxError, ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from inventory.signals import guests_discovered_send, sync_finished_send
from inventory.sync.apply import changeset_apply
from inventory.sync.diff import diff
from inventory.sync.live import sync_finished_publish
from inventory.sync.local import load_local, with_tasks
from inventory.sync.osinfo import osinfo_sync
from inventory.sync.remote import Progress, load_remote
from inventory.sync.state import LocalTask, RemoteState

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=30)


def sync_lock_acquire(*, cluster_id: int, now: datetime) -> bool:
    """Take the cluster's sync lease; False when another sync holds it."""
    claimed = (
        Cluster.objects.filter(pk=cluster_id)
        .filter(Q(sync_lock_until__isnull=True) | Q(sync_lock_until__lt=now))
        .update(sync_lock_until=now + LEASE)
    )
    return claimed == 1


def sync_lock_release(*, cluster_id: int) -> None:
    Cluster.objects.filter(pk=cluster_id).update(sync_lock_until=None)


def cluster_sync(
    *, cluster_id: int, full: bool = False, progress: Progress | None = None
) -> SyncRun | None:
    """Sync ``cluster_id`` now; the finished run, or None if a sync of it is running.

    Never raises for a cluster's failure (unreachable, bad data, a bug in the apply):
    the run records it, so one broken cluster cannot stop the others.
    """
    started = timezone.now()
    if not sync_lock_acquire(cluster_id=cluster_id, now=started):
        logger.info("sync of cluster %s skipped: another sync holds it", cluster_id)
        return None
    try:
        run = SyncRun.objects.create(cluster_id=cluster_id, started_at=started, full=full)
        Cluster.objects.filter(pk=cluster_id).update(last_sync_status=SyncStatus.RUNNING)
        try:
            _run(run, progress=progress)
        except ProxmoxError as exc:
            _finish(run, SyncRunStatus.FAILED, error=f"the cluster could not be read: {exc}")
        except Exception as exc:
            logger.exception("sync of cluster %s failed", cluster_id)
            _finish(
                run,
                SyncRunStatus.FAILED,
                error=f"the sync failed inside Steward ({type(exc).__name__}: {exc}); "
                "what was written before stays consistent, the next cycle retries",
                log=traceback.format_exc(),
            )
        return run
    finally:
        sync_lock_release(cluster_id=cluster_id)


def _run(run: SyncRun, *, progress: Progress | None) -> None:
    cluster = Cluster.objects.get(pk=run.cluster_id)
    gateway = ProxmoxGateway(cluster_endpoint(cluster))
    local = load_local(cluster_id=cluster.pk)

    def known_tasks(upids: Iterable[str]) -> Mapping[str, LocalTask]:
        return with_tasks(local, upids=upids).tasks

    remote = load_remote(
        gateway,
        local=local,
        now=run.started_at,
        full=run.full,
        progress=progress,
        known_tasks=known_tasks,
        # The rolling re-read is sized per cycle so every config stays under an hour old.
        cycle=timedelta(seconds=settings.STEWARD_SYNC_INTERVAL),
    )
    local = with_tasks(local, upids=[t.upid for t in remote.tasks or ()])
    changeset = diff(local, remote, now=run.started_at)
    _report(progress, "apply", 0, 1)
    changeset_apply(cluster_id=cluster.pk, changeset=changeset)
    if changeset.guests_create:  # the diff stamps new guests with first_seen = the run's start
        new = VirtualMachine.objects.filter(cluster_id=cluster.pk, first_seen=run.started_at)
        vm_ids = list(new.values_list("pk", flat=True))
        transaction.on_commit(lambda: guests_discovered_send(cluster_id=cluster.pk, vm_ids=vm_ids))
    _report(progress, "apply", 1, 1)
    problems = [*remote.errors, *changeset.warnings]
    calls = dict(remote.calls)
    osinfo = _osinfo(gateway, cluster_id=cluster.pk, remote=remote, calls=calls)
    run.stats = {**changeset.stats, **osinfo, "api_calls": calls}
    if remote.version and remote.version != cluster.pve_version:
        Cluster.objects.filter(pk=cluster.pk).update(pve_version=remote.version)
    changed = changeset.changes_content
    if remote.nodes is None:
        _finish(run, SyncRunStatus.FAILED, error="; ".join(problems) or "nothing could be read")
    elif problems:
        _finish(
            run,
            SyncRunStatus.PARTIAL,
            error="; ".join(problems),
            log="\n".join(problems),
            changed=changed,
        )
    else:
        _finish(run, SyncRunStatus.OK, changed=changed)


def _osinfo(
    gateway: ProxmoxGateway, *, cluster_id: int, remote: RemoteState, calls: dict[str, int]
) -> dict[str, int]:
    """The guest agents' OS reads after the apply; their calls are added to ``calls``.

    The inventory is already written, so a failure here is logged, never the run's.
    """
    if remote.nodes is None:
        return {}
    before = dict(gateway.calls)
    try:
        stats = osinfo_sync(
            gateway,
            cluster_id=cluster_id,
            guests=remote.guests,
            online={n.name for n in remote.nodes if n.status == "online"},
            now=remote.read_at,
        )
    except Exception:
        logger.exception("guest agent OS reads of cluster %s failed", cluster_id)
        stats = {"osinfo_error": 1}
    for key, count in gateway.calls.items():
        if count - before.get(key, 0):
            calls[key] = calls.get(key, 0) + count - before.get(key, 0)
    return stats


def _report(progress: Progress | None, step: str, done: int, total: int) -> None:
    if progress is not None:
        progress(step, done, total)


def _finish(
    run: SyncRun, status: str, *, error: str = "", log: str = "", changed: bool = False
) -> None:
    """Move the run from ``running`` to its end state, mirror it on the cluster and, once
    committed, tell open inventory pages (``inventory.sync.live``) and the receivers of
    ``inventory.signals.sync_finished``."""
    if status not in SYNC_RUN_TRANSITIONS[run.status]:
        raise ValueError(f"a sync run cannot go from {run.status} to {status}")
    now = timezone.now()
    with transaction.atomic():
        run.status, run.error, run.finished_at = status, error, now
        run.log = "\n".join(filter(None, [run.log, log]))
        run.save(update_fields=["status", "error", "finished_at", "log", "stats"])
        Cluster.objects.filter(pk=run.cluster_id).update(
            last_sync_at=now, last_sync_status=status, last_sync_error=error
        )
        name = Cluster.objects.filter(pk=run.cluster_id).values_list("name", flat=True).first()
        transaction.on_commit(
            lambda: sync_finished_publish(
                cluster_id=run.cluster_id,
                cluster_name=name or "",
                run_id=run.pk,
                status=status,
                changed=changed,
            )
        )
        transaction.on_commit(
            lambda: sync_finished_send(cluster_id=run.cluster_id, run_id=run.pk, status=status)
        )
