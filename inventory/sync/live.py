"""Tell open browser tabs that a cluster sync finished, so inventory pages refresh.

The event is ``inventory.synced`` (a ``steward:inventory.synced`` DOM event in the page,
see ``static/js/live.js``) with payload ``{cluster, cluster_id, run, status, changed}``;
``changed`` is false when the run wrote nothing, so lists only re-fetch when there is
something new. It goes to the role groups whose holders may see the whole inventory
(derived from ``InventoryConfig.role_permissions``, so a role given inventory rights
there is told too). Publishing is best effort: a channel layer that is down is logged
and never fails a sync.
"""

from __future__ import annotations

import logging

from django.apps import apps

from governance.core.realtime import publish_to_group, role_group

logger = logging.getLogger(__name__)

EVENT = "inventory.synced"
_SEE_GUESTS = "inventory.view_virtualmachine"


def watcher_groups() -> list[str]:
    """The live groups of every role that may see all guests, sorted."""
    mapping = apps.get_app_config("inventory").role_permissions
    return sorted(role_group(str(role)) for role, perms in mapping.items() if _SEE_GUESTS in perms)


def sync_finished_publish(
    *, cluster_id: int, cluster_name: str, run_id: int, status: str, changed: bool
) -> None:
    """Publish ``inventory.synced`` to :func:`watcher_groups` (call from ``on_commit``)."""
    payload = {
        "cluster": cluster_name,
        "cluster_id": cluster_id,
        "run": run_id,
        "status": status,
        "changed": changed,
    }
    for group in watcher_groups():
        try:
            publish_to_group(group, EVENT, payload)
        except Exception:  # a live hint must never fail the sync that caused it
            logger.warning("could not publish %s to %s", EVENT, group, exc_info=True)
