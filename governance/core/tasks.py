"""Background tasks of the shared kernel."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="governance.core.tasks.heartbeat")
def heartbeat() -> None:
    """Beat's periodic proof of life: the worker logs it, so a stalled pipeline shows."""
    logger.info("heartbeat")
