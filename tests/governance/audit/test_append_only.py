"""On PostgreSQL the database itself refuses to change or remove audit events."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from governance.audit.models import AuditEvent

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the append-only triggers exist on PostgreSQL only; SQLite relies on the chain",
    ),
]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'forged'",
        "DELETE FROM audit_auditevent",
    ],
)
def test_update_and_delete_are_refused(record_events, statement):
    record_events(2)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["test.event"] * 2


def test_orm_update_and_delete_are_refused(record_events):
    record_events(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


def test_truncate_is_refused(record_events):
    record_events(1)
    with connection.cursor() as cursor:
        # The suite turns this guard off so pytest-django can empty the database
        # between transactional tests; switch it back on (rolled back with the test).
        # Pending deferred foreign-key checks would block the ALTER: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_truncate")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 1
