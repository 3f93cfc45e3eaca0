"""In-app notifications, one row per person and message; mailed once a day as a digest."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    """Something a person should know; at most one unread row per (user, kind, link).

    ``digest_sent_at`` is set once the row went out in a daily digest mail; reading it in
    the app (``read_at``) does not stop the digest from mentioning it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=50)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    digest_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notif_user_order_idx"),
            models.Index(
                fields=["user"],
                condition=models.Q(read_at__isnull=True),
                name="notif_user_unread_idx",
            ),
            models.Index(
                fields=["user", "created_at"],
                condition=models.Q(digest_sent_at__isnull=True),
                name="notif_digest_due_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "link"],
                condition=models.Q(read_at__isnull=True),
                name="notif_one_unread_per_user_kind_link",
                violation_error_message="This person already has this notification unread.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.subject}"
