"""Helpers for the audit tests: writing events and tampering with them as a DB owner would."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection, transaction

from governance.audit.models import AuditEvent
from governance.audit.services import audit_record


@pytest.fixture
def record_events(db) -> Callable[[int], list[AuditEvent]]:
    def record(count: int, *, actor=None, action: str = "test.event") -> list[AuditEvent]:
        events = []
        for index in range(count):
            with transaction.atomic():
                events.append(audit_record(actor=actor, action=action, after={"index": index}))
        return events

    return record


@pytest.fixture
def as_db_superuser(db) -> Callable[[str, list], None]:
    """Run raw SQL bypassing the append-only triggers, as a database superuser could.

    On PostgreSQL ``session_replication_role = replica`` skips ordinary triggers for
    the rest of the test's transaction (which the test rolls back); SQLite has none.
    """

    def execute(sql: str, params: list | None = None) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(sql, params or [])
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL session_replication_role = DEFAULT")

    return execute
