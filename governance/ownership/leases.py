"""Lease warnings (14, 7 and 1 days before the end, then "expired") and sprawl samples.

Invariants:
- Each (VM, lease end, threshold) is warned about once (a unique ``LeaseWarning`` row);
  only the tightest threshold reached is sent, so a lease first seen 5 days before its
  end gets the 7-day warning and not the 14-day one. Extending a lease (a new end) starts
  its warnings afresh.
- A lease ends at the end of its ``lease_end`` day: it is "expired" from the next day.
- Warnings go to the owner and the custodian as notifications, which the daily digest
  mails (so a person with fifty expiring VMs gets one mail, not fifty).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from governance.notifications.services import notify_many
from governance.ownership.models import LeaseThreshold, LeaseWarning, Ownership, SprawlSample
from governance.ownership.services import vm_link
from inventory.models import VirtualMachine

logger = logging.getLogger(__name__)

_THRESHOLDS = ((1, LeaseThreshold.DAYS_1), (7, LeaseThreshold.DAYS_7), (14, LeaseThreshold.DAYS_14))
WARN_DAYS = 14


def lease_threshold(*, lease_end: date, today: date) -> LeaseThreshold | None:
    """The tightest warning due for a lease ending ``lease_end``, seen on ``today``."""
    days_left = (lease_end - today).days
    if days_left < 0:
        return LeaseThreshold.EXPIRED
    for days, threshold in _THRESHOLDS:
        if days_left <= days:
            return threshold
    return None


def _message(vm: VirtualMachine, lease_end: date, threshold: str) -> tuple[str, str]:
    if threshold == LeaseThreshold.EXPIRED:
        return (
            f"The lease of VM {vm} expired on {lease_end}",
            "Ask for an extension or let it be retired; policies may now act on it.",
        )
    return (
        f"The lease of VM {vm} ends on {lease_end} ({threshold} day(s) or less left)",
        "Ask for an extension from the VM page if it is still needed.",
    )


def lease_warnings_send(*, today: date | None = None) -> int:
    """Send every lease warning due ``today`` that was not sent yet; how many were sent.

    One transaction: the warning rows and the notifications commit together, so a
    crash never records a warning nobody received (or the reverse).
    """
    today = today or timezone.localdate()
    now = timezone.now()
    due = (
        Ownership.objects.filter(
            until__isnull=True,
            vm__gone_since__isnull=True,
            lease_end__isnull=False,
            lease_end__lte=today + timedelta(days=WARN_DAYS),
        )
        .select_related("vm", "owner", "custodian")
        .order_by("lease_end", "vm_id")
    )
    with transaction.atomic():
        sent = {
            (vm_id, lease_end, threshold)
            for vm_id, lease_end, threshold in LeaseWarning.objects.filter(
                vm_id__in=due.values("vm_id")
            ).values_list("vm_id", "lease_end", "threshold")
        }
        warnings = []
        for row in due:
            threshold = lease_threshold(lease_end=row.lease_end, today=today)
            if threshold is None or (row.vm_id, row.lease_end, threshold) in sent:
                continue
            warnings.append(
                LeaseWarning(
                    vm_id=row.vm_id, lease_end=row.lease_end, threshold=threshold, sent_at=now
                )
            )
            subject, body = _message(row.vm, row.lease_end, threshold)
            notify_many(
                users=[row.owner, row.custodian],
                kind=f"lease.{threshold}",
                subject=subject,
                body=body,
                link=vm_link(row.vm_id),
            )
        LeaseWarning.objects.bulk_create(warnings, batch_size=1000)
    logger.info("%s lease warnings sent", len(warnings))
    return len(warnings)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def _instant(week: date) -> datetime:
    return timezone.make_aware(datetime.combine(week, time.min))


def sprawl_sample(*, week: date) -> int:
    """(Re)compute the per-team samples of ``week`` (a Monday, at 00:00); rows written.

    A VM counts for a week when it existed at that instant; its team is the one its
    ownership row said at that instant (none before it was first assigned).
    """
    at = _instant(week)
    team_then = Ownership.objects.filter(vm_id=OuterRef("pk"), since__lte=at).filter(
        Q(until__isnull=True) | Q(until__gt=at)
    )
    counts = (
        VirtualMachine.objects.filter(first_seen__lte=at)
        .filter(Q(gone_since__isnull=True) | Q(gone_since__gt=at))
        .annotate(team_then=Subquery(team_then.values("team_id")[:1]))
        .values("team_then")
        .annotate(n=Count("id"), cpu=Sum("maxcpu"), mem=Sum("maxmem"))
        .order_by()
    )
    rows = [
        SprawlSample(
            team_id=c["team_then"], week=week, vm_count=c["n"], cpu=c["cpu"] or 0, mem=c["mem"] or 0
        )
        for c in counts
    ]
    if not any(row.team_id is None for row in rows):
        # Always one row per week, so an empty week counts as sampled (and plots as 0).
        rows.append(SprawlSample(team_id=None, week=week))
    with transaction.atomic():
        # Samples are derived figures, recomputed whole for their week.
        SprawlSample.objects.filter(week=week).delete()
        SprawlSample.objects.bulk_create(rows)
    return len(rows)


def sprawl_record(*, today: date | None = None) -> int:
    """Sample this week, and every past week without samples (the first run backfills
    from the oldest ``first_seen``); how many weeks were computed."""
    this_week = week_start(today or timezone.localdate())
    oldest = VirtualMachine.objects.order_by("first_seen").values_list("first_seen", flat=True)
    first = oldest.first()
    if first is None:
        return 0
    done = set(SprawlSample.objects.values_list("week", flat=True).distinct())
    week = week_start(timezone.localtime(first).date())
    computed = 0
    while week <= this_week:
        if week not in done or week == this_week:
            sprawl_sample(week=week)
            computed += 1
        week += timedelta(days=7)
    return computed
