"""Background tasks of the shared kernel."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from governance.core.realtime import publish_to_user

logger = logging.getLogger(__name__)

# Event name the home page's activity panel shows.
ACTIVITY_EVENT = "activity"


@shared_task(name="governance.core.tasks.heartbeat")
def heartbeat() -> None:
    """Beat's periodic proof of life: the worker logs it, so a stalled pipeline shows."""
    logger.info("heartbeat")


@shared_task(name="governance.core.tasks.ping_user")
def ping_user(user_id: int, text: str) -> None:
    """Publish ``text`` to the user's open tabs from the worker.

    It exists to prove the whole path (web -> broker -> worker -> channel layer ->
    websocket -> browser) to a person and to the browser tests; no retries, since a
    lost ping is harmless and a late one would only confuse.
    """
    publish_to_user(
        user_id,
        ACTIVITY_EVENT,
        {"text": text, "source": "worker", "at": timezone.now().isoformat()},
    )
    logger.info("ping delivered to user %s's live group", user_id)
