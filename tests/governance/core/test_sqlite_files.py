"""The embedded SQLite files are shared by web, worker and beat processes: every one of
them starts its write transactions at once (IMMEDIATE), so a writer waits for the lock
instead of failing with "database is locked" when it upgrades a read."""

from __future__ import annotations

from django.conf import settings


def test_every_sqlite_database_begins_transactions_immediately() -> None:
    sqlite = [a for a, db in settings.DATABASES.items() if db["ENGINE"].endswith("sqlite3")]
    for alias in sqlite:
        options = settings.DATABASES[alias]["OPTIONS"]
        assert options.get("transaction_mode") == "IMMEDIATE", alias
        assert options.get("timeout", 0) >= 20, alias
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert "channels" in sqlite  # the embedded channel layer's own file
