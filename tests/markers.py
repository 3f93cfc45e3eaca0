"""Markers shared by test modules."""

from __future__ import annotations

import pytest
from django.db import connection

#: Threads racing each other through row locks: SQLite runs one writer at a time, so
#: the race these tests provoke cannot happen there.
concurrent_writers = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrent writers need PostgreSQL (run with DATABASE_URL=postgres://...)",
)
