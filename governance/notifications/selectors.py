"""Reading a person's notifications; every query is scoped to that person."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from governance.notifications.models import Notification


def notifications_for(*, user: Any) -> QuerySet[Notification]:
    """``user``'s notifications, newest first."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def unread_count(*, user: Any) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
