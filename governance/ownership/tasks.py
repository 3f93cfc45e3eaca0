"""Celery tasks of ownership: beat's daily lease warnings and weekly sprawl samples.

Each task calls one service; the rows the services write (``LeaseWarning``,
``SprawlSample``) are the record of what each run did, and both services are safe to
run again (a rerun sends nothing twice and recomputes the same figures).
"""

from __future__ import annotations

from celery import shared_task

from governance.ownership.leases import lease_warnings_send, sprawl_record


@shared_task(name="governance.ownership.tasks.send_lease_warnings")
def send_lease_warnings() -> int:
    return lease_warnings_send()


@shared_task(name="governance.ownership.tasks.record_sprawl")
def record_sprawl() -> int:
    return sprawl_record()
