"""The policy app's signal and receivers (connected in ``PolicyConfig.ready``).

``remediations_planned`` is sent after the reconciler committed new ``pending``
``Remediation`` rows (kwargs: ``remediation_ids``); the executors
(``policy.remediation``) connect to it to queue their Celery tasks. Receivers stay thin:
each calls one service.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.dispatch import Signal

logger = logging.getLogger(__name__)

remediations_planned = Signal()


def remediations_planned_send(*, remediation_ids: Sequence[int]) -> None:
    """Tell the executors about new pending remediations; a failing receiver is logged."""
    if not remediation_ids:
        return
    results = remediations_planned.send_robust(sender=None, remediation_ids=list(remediation_ids))
    for receiver, outcome in results:
        if isinstance(outcome, Exception):
            logger.error("remediations_planned receiver %r failed", receiver, exc_info=outcome)


def connect() -> None:
    """Connect the receivers (the sync hook arrives with the reconciler)."""
