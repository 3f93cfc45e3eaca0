"""The policy app's signal and receivers (connected in ``PolicyConfig.ready``).

``remediations_planned`` is sent after the reconciler committed new ``pending``
``Remediation`` rows (kwargs: ``remediation_ids``); the executors
(``policy.remediation``) connect to it to queue their Celery tasks. Receivers stay thin:
each calls one service.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.dispatch import Signal

from inventory.signals import sync_finished

logger = logging.getLogger(__name__)

# A failed run read nothing new, so there is nothing to reconcile after it.
_RECONCILE_AFTER = {"ok", "partial"}

remediations_planned = Signal()


def remediations_planned_send(*, remediation_ids: Sequence[int]) -> None:
    """Tell the executors about new pending remediations; a failing receiver is logged."""
    if not remediation_ids:
        return
    results = remediations_planned.send_robust(sender=None, remediation_ids=list(remediation_ids))
    for receiver, outcome in results:
        if isinstance(outcome, Exception):
            logger.error("remediations_planned receiver %r failed", receiver, exc_info=outcome)


def _on_sync_finished(sender: Any, *, cluster_id: int, run_id: int, status: str, **_: Any) -> None:
    """Reconcile the cluster right after its sync, in the sync's process (the sync task)."""
    if status not in _RECONCILE_AFTER:
        return
    from policy.services.reconcile import reconcile

    reconcile(cluster_id=cluster_id, trigger=f"sync run {run_id}")


def connect() -> None:
    from policy.remediation.queue import on_remediations_planned

    sync_finished.connect(_on_sync_finished, dispatch_uid="policy_reconcile_after_sync")
    remediations_planned.connect(on_remediations_planned, dispatch_uid="policy_queue_remediations")
