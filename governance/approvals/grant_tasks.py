"""Beat tasks of time-limited access and export expiry; each calls one service.

Registered through ``CELERY_IMPORTS`` (Celery's autodiscovery reads only ``tasks.py``).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="approvals.grants_reconcile")
def grants_reconcile() -> dict[str, int] | None:
    """Start due grants, end expired ones (ACL removed, consoles stopped), retry failures;
    None when the previous run was still going."""
    from governance.approvals.services.grants import grants_reconcile as reconcile

    return reconcile()


@shared_task(name="approvals.exports_expire")
def exports_expire() -> int:
    """Delete export archives whose availability ended and close their ledger rows."""
    from governance.approvals.execution.kinds.export import exports_expire as expire

    return expire()
