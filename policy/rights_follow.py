"""Rights follow ownership: soon after a guest's owner or custodian changes (assignment,
claim, transfer, a deactivated holder replaced), a rights sync runs for its cluster, so
the new holder gets Steward's role on the guest in Proxmox and the old one loses it
without waiting for the nightly ``rights_sync_all``.

Every new ``Ownership`` row (``post_save``) queues, after its transaction commits, one
``policy.tasks.rights_sync`` for the guest's cluster ``RIGHTS_SYNC_DELAY`` seconds later.
Changes to the same cluster inside that window share the one sync (a cache key per
cluster), which reads everything afresh when it runs. Bulk assignments and ownership
rules write their rows without ``post_save`` and send ``holders_changed`` instead.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction

RIGHTS_SYNC_DELAY = 15  # seconds: changes made together share one sync


def _key(cluster_id: int) -> str:
    return f"policy:rights-sync-soon:{cluster_id}"


def rights_sync_soon(cluster_id: int) -> bool:
    """Queue one rights sync for ``cluster_id`` unless one is queued already; whether this
    call queued it."""
    from policy.tasks import rights_sync_cluster

    if not cache.add(_key(cluster_id), 1, timeout=RIGHTS_SYNC_DELAY):
        return False
    rights_sync_cluster.apply_async(args=[cluster_id], countdown=RIGHTS_SYNC_DELAY)
    return True


def on_ownership_saved(sender: Any, *, instance: Any, created: bool = False, **_: Any) -> None:
    """Receiver of ``post_save`` for ``Ownership``: a new holder row queues a rights sync."""
    from inventory.models import VirtualMachine

    if not created:
        return
    cluster_id = (
        VirtualMachine.objects.filter(pk=instance.vm_id)
        .values_list("cluster_id", flat=True)
        .first()
    )
    if cluster_id is not None:
        transaction.on_commit(lambda: rights_sync_soon(cluster_id))


def on_holders_changed(sender: Any, *, vm_ids: list[int], **_: Any) -> None:
    """Receiver of ``governance.ownership.events.holders_changed`` (sent after commit)."""
    from inventory.models import VirtualMachine

    clusters = VirtualMachine.objects.filter(pk__in=vm_ids).values_list("cluster_id", flat=True)
    for cluster_id in sorted(set(clusters)):
        rights_sync_soon(cluster_id)


def connect() -> None:
    from django.db.models.signals import post_save

    from governance.ownership.events import holders_changed
    from governance.ownership.models import Ownership

    post_save.connect(
        on_ownership_saved, sender=Ownership, dispatch_uid="policy_rights_follow_ownership"
    )
    holders_changed.connect(on_holders_changed, dispatch_uid="policy_rights_follow_bulk")
