"""Tell open browser tabs that a violation or a remediation run changed.

The event is ``policy.changed`` (``steward:policy.changed`` in the page) with payload
``{cluster, vm, violation, remediation, state}`` (ids, null when not about one). The
violation list, the run page and the VM page's policy section re-fetch themselves on it
(htmx). Sources: every saved ``Remediation`` or ``Violation`` row (the runner's state
moves), and every finished sync, after which the reconciler has run in the same
process (the ledger writes it in bulk, which sends no ``post_save``). It goes to the
role groups that see every violation (derived from ``PolicyConfig.role_permissions``)
and, for one VM, to its current owner and custodian. Published after the transaction
commits, best effort: a channel layer that is down is logged and never fails the
write that caused it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models.signals import post_save

from governance.core.realtime import publish_to_group, role_group, user_group
from governance.ownership.models import Ownership
from inventory.signals import sync_finished
from policy.models import Remediation, Violation

logger = logging.getLogger(__name__)

EVENT = "policy.changed"
_SEE_ALL = "policy.view_violation"


def watcher_groups(vm_id: int | None) -> list[str]:
    """Role groups that see every violation, plus the VM's owner's and custodian's."""
    mapping = apps.get_app_config("policy").role_permissions
    groups = {role_group(str(role)) for role, perms in mapping.items() if _SEE_ALL in perms}
    if vm_id is not None:
        holders = Ownership.objects.filter(vm_id=vm_id, until__isnull=True).values_list(
            "owner_id", "custodian_id"
        )
        groups.update(user_group(uid) for pair in holders for uid in pair if uid is not None)
    return sorted(groups)


def policy_changed_publish(
    *,
    cluster_id: int | None = None,
    vm_id: int | None = None,
    violation_id: int | None = None,
    remediation_id: int | None = None,
    state: str = "",
) -> None:
    """Publish ``policy.changed`` to :func:`watcher_groups` (call from ``on_commit``)."""
    payload = {
        "cluster": cluster_id,
        "vm": vm_id,
        "violation": violation_id,
        "remediation": remediation_id,
        "state": state,
    }
    try:
        for group in watcher_groups(vm_id):
            publish_to_group(group, EVENT, payload)
    except Exception:  # a live hint must never fail the change that caused it
        logger.warning("could not publish %s", EVENT, exc_info=True)


def _remediation_saved(sender: Any, instance: Remediation, **_: Any) -> None:
    transaction.on_commit(
        lambda: policy_changed_publish(
            cluster_id=instance.cluster_id,
            vm_id=instance.vm_id,
            violation_id=instance.violation_id,
            remediation_id=instance.pk,
            state=instance.state,
        )
    )


def _violation_saved(sender: Any, instance: Violation, **_: Any) -> None:
    transaction.on_commit(
        lambda: policy_changed_publish(
            cluster_id=instance.cluster_id,
            vm_id=instance.vm_id,
            violation_id=instance.pk,
            state="resolved" if instance.resolved_at else instance.remediation_state,
        )
    )


def _sync_finished(sender: Any, *, cluster_id: int, status: str, **_: Any) -> None:
    # Connected after the reconciler's receiver, so its writes are in by now.
    if status in ("ok", "partial"):
        policy_changed_publish(cluster_id=cluster_id, state="reconciled")


def connect() -> None:
    """Connect the receivers (from ``PolicyConfig.ready``, after ``policy.signals``)."""
    sync_finished.connect(_sync_finished, dispatch_uid="policy.live.sync")
    post_save.connect(_remediation_saved, sender=Remediation, dispatch_uid="policy.live.run")
    post_save.connect(_violation_saved, sender=Violation, dispatch_uid="policy.live.violation")
