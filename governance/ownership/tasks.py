"""Celery tasks of ownership: beat's daily lease warnings and weekly sprawl samples, and
the optional mirroring of owners to Proxmox tags after a change (``mirror``).

Each task calls one service; the rows the services write (``LeaseWarning``,
``SprawlSample``) are the record of what each run did, and both services are safe to
run again (a rerun sends nothing twice and recomputes the same figures).
"""

from __future__ import annotations

from celery import Task, shared_task

from governance.ownership.leases import lease_warnings_send, sprawl_record
from governance.ownership.mirror import ownership_tags_mirror
from inventory.proxmox import ProxmoxDigestMismatch, ProxmoxLocked


@shared_task(name="governance.ownership.tasks.send_lease_warnings")
def send_lease_warnings() -> int:
    return lease_warnings_send()


@shared_task(name="governance.ownership.tasks.record_sprawl")
def record_sprawl() -> int:
    return sprawl_record()


MIRROR_RETRIES = 6


def mirror_backoff(retries: int) -> int:
    """Seconds before the next try: 15 s, doubling, at most 10 minutes."""
    return min(600, 15 * 2**retries)


@shared_task(
    bind=True, name="governance.ownership.tasks.mirror_owner_tags", max_retries=MIRROR_RETRIES
)
def mirror_owner_tags(self: Task, vm_id: int) -> bool:
    """Write the VM's owner/team tags; a stale digest or a lock re-schedules the task."""
    try:
        return ownership_tags_mirror(vm_id=vm_id)
    except (ProxmoxDigestMismatch, ProxmoxLocked) as exc:
        # The guest changed or is busy since we read it: recompute from a fresh read later.
        raise self.retry(exc=exc, countdown=mirror_backoff(self.request.retries)) from exc
