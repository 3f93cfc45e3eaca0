"""Celery tasks of notifications: beat's daily digest run."""

from __future__ import annotations

import logging

from celery import shared_task

from governance.notifications.digest import digest_recipients, digest_send

logger = logging.getLogger(__name__)


@shared_task(name="governance.notifications.tasks.send_digests")
def send_digests() -> int:
    """Send each due person their digest; one failing mailbox does not stop the others.

    The notification rows are the run's record: ``digest_sent_at`` says who got what.
    Returns how many mails went out.
    """
    sent = 0
    for user_id in digest_recipients():
        try:
            sent += digest_send(user_id=user_id) > 0
        except Exception:
            logger.exception("digest for user %s failed; retried on the next run", user_id)
    return sent
