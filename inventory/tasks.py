"""Celery finds tasks in each app's ``tasks`` module; the sync's live in ``inventory.sync``."""

from inventory.sync.tasks import sync_all, sync_cluster

__all__ = ["sync_all", "sync_cluster"]
