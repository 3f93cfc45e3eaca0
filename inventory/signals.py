"""Signals inventory sends so that apps built on it can react without being imported here."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent after the sync committed guests it saw for the first time; kwargs: cluster_id,
# vm_ids (list of VirtualMachine ids).
guests_discovered = Signal()


def guests_discovered_send(*, cluster_id: int, vm_ids: Sequence[int]) -> None:
    """Tell receivers about new guests; a failing receiver is logged, never fails the sync."""
    if not vm_ids:
        return
    results = guests_discovered.send_robust(sender=None, cluster_id=cluster_id, vm_ids=list(vm_ids))
    for receiver, outcome in results:
        if isinstance(outcome, Exception):
            logger.error(
                "guests_discovered receiver %r failed for cluster %s",
                receiver,
                cluster_id,
                exc_info=outcome,
            )


# Sent after a sync run finished and committed; kwargs: cluster_id, run_id, status
# (the run's end status: ok, partial or failed).
sync_finished = Signal()


def sync_finished_send(*, cluster_id: int, run_id: int, status: str) -> None:
    """Tell receivers a sync ended; a failing receiver is logged, never fails the sync."""
    results = sync_finished.send_robust(
        sender=None, cluster_id=cluster_id, run_id=run_id, status=status
    )
    for receiver, outcome in results:
        if isinstance(outcome, Exception):
            logger.error(
                "sync_finished receiver %r failed for cluster %s run %s",
                receiver,
                cluster_id,
                run_id,
                exc_info=outcome,
            )
