"""The daily digest: one mail per person per day with everything new since the last one."""

from __future__ import annotations

import logging
from datetime import datetime, time

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from governance.accounts.models import User
from governance.notifications.models import Notification

logger = logging.getLogger(__name__)


def _start_of_day(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date(), time.min), local.tzinfo)


def digest_send(*, user_id: int, now: datetime | None = None) -> int:
    """Mail ``user_id`` the notifications not yet in a digest; how many it listed (0: no mail).

    At most one digest per person per calendar day (in ``TIME_ZONE``): a second run the
    same day sends nothing. Users without an email address or inactive get none, and
    their rows stay due. Links are made absolute with ``STEWARD_BASE_URL`` when set. The
    rows are locked while the mail goes out, so two workers cannot both send them; a
    failed send rolls back and the next run retries.
    """
    now = now or timezone.now()
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return 0
    with transaction.atomic():
        if Notification.objects.filter(
            user_id=user_id, digest_sent_at__gte=_start_of_day(now)
        ).exists():
            return 0
        due = list(
            Notification.objects.select_for_update()
            .filter(user_id=user_id, digest_sent_at__isnull=True, created_at__lte=now)
            .order_by("created_at", "id")
        )
        if not due:
            return 0
        context = {
            "user": user,
            "notifications": due,
            "base_url": settings.STEWARD_BASE_URL,
        }
        subject = f"Steward: {len(due)} new notification{'s' if len(due) != 1 else ''}"
        send_mail(
            subject,
            render_to_string("notifications/digest.txt", context),
            None,
            [user.email],
        )
        Notification.objects.filter(pk__in=[n.pk for n in due]).update(digest_sent_at=now)
    logger.info("digest of %s notifications sent to user %s", len(due), user_id)
    return len(due)


def digest_recipients() -> list[int]:
    """Ids of active users with an email address and notifications not yet in a digest."""
    return list(
        Notification.objects.filter(digest_sent_at__isnull=True, user__is_active=True)
        .exclude(user__email="")
        .values_list("user_id", flat=True)
        .distinct()
        .order_by("user_id")
    )
