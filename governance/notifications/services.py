"""Creating and reading-off notifications; the only code that writes ``Notification`` rows.

Invariants:
- One unread row per (user, kind, link): telling someone again what they have not read
  yet adds nothing (a partial unique constraint, so concurrent writers cannot duplicate).
- Inactive users are not notified.
- A new notification is pushed to the user's open tabs after its transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from governance.core.realtime import publish_to_user
from governance.notifications.models import Notification

LIVE_EVENT = "notification"


def notify(
    *, user: Any, kind: str, subject: str, body: str = "", link: str = ""
) -> Notification | None:
    """Tell ``user`` something; the new row, or None if it was already waiting unread."""
    created = notify_many(users=[user], kind=kind, subject=subject, body=body, link=link)
    return created[0] if created else None


def notify_many(
    *, users: Iterable[Any], kind: str, subject: str, body: str = "", link: str = ""
) -> list[Notification]:
    """``notify`` for several people at once (one INSERT); returns the rows really created.

    Runs in the caller's transaction when there is one, so a notification about a
    change that rolls back disappears with it.
    """
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    if not recipients:
        return []
    now = timezone.now()
    with transaction.atomic():
        already = set(
            Notification.objects.filter(
                user_id__in=list(recipients), kind=kind, link=link, read_at__isnull=True
            ).values_list("user_id", flat=True)
        )
        rows = [
            Notification(
                user_id=user_id,
                kind=kind,
                subject=subject[:200],
                body=body,
                link=link,
                created_at=now,
            )
            for user_id in recipients
            if user_id not in already
        ]
        # ignore_conflicts: a concurrent writer may have added the same unread row since.
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        for row in rows:
            transaction.on_commit(
                lambda user_id=row.user_id: _publish(user_id, kind=kind, subject=subject, link=link)
            )
    return rows


def _publish(user_id: int, *, kind: str, subject: str, link: str) -> None:
    publish_to_user(user_id, LIVE_EVENT, {"kind": kind, "subject": subject, "link": link})


def notification_mark_read(*, user: Any, notification_id: int, now: datetime | None = None) -> bool:
    """Mark one of ``user``'s notifications read; False if it is not theirs or already read."""
    updated = Notification.objects.filter(
        pk=notification_id, user=user, read_at__isnull=True
    ).update(read_at=now or timezone.now())
    return updated == 1


def notifications_mark_all_read(*, user: Any, now: datetime | None = None) -> int:
    """Mark every unread notification of ``user`` read; how many were."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )
