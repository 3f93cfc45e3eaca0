"""Queueing remediation steps on Celery once the rows that describe them are committed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction


def remediations_queue(remediation_ids: Sequence[int], *, countdown: float = 0) -> None:
    """Queue one step per remediation after the current transaction commits (at once
    outside one): a worker must never see an id whose row it cannot read yet."""
    ids = list(remediation_ids)
    if not ids:
        return

    def send() -> None:
        from policy.tasks import remediation_run

        for remediation_id in ids:
            remediation_run.apply_async(args=[remediation_id], countdown=countdown)

    transaction.on_commit(send)


def on_remediations_planned(sender: Any, *, remediation_ids: Sequence[int], **_: Any) -> None:
    """Receiver of ``policy.signals.remediations_planned`` (sent after commit)."""
    remediations_queue(remediation_ids)
