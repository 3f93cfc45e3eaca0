"""Database routing: the embedded channel layer lives in a SQLite file of its own."""

from __future__ import annotations

from typing import Any

CHANNELS_APP = "channels_lite"
CHANNELS_DB = "channels"


class ChannelLayerRouter:
    """Send channels_lite's tables to the ``channels`` database and nothing else there."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return CHANNELS_DB if model._meta.app_label == CHANNELS_APP else None

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return (app_label == CHANNELS_APP) == (db == CHANNELS_DB)
