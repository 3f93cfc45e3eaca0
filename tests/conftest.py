"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with the audit table's TRUNCATE guard off on PostgreSQL.

    pytest-django empties the database after each transactional test with TRUNCATE,
    which the append-only trigger refuses; the UPDATE/DELETE guard stays on, and the
    audit tests switch the TRUNCATE guard back on where they check it.
    """
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_truncate"
                )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hash test passwords cheaply; production hashing is deliberately slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
