"""On PostgreSQL the VM name search can use the trigram index (SQLite keeps LIKE)."""

from __future__ import annotations

import pytest
from django.db import connection

from inventory.models import VirtualMachine
from inventory.selectors.guests import vm_search

pytestmark = pytest.mark.django_db


def test_name_search_is_served_by_the_trigram_index() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes exist on PostgreSQL only")
    queryset = vm_search(VirtualMachine.objects.all(), "web-0-42")
    with connection.cursor() as cursor:
        # A test table is tiny, so the planner would scan it (or walk a btree index and
        # filter, depending on what earlier tests left in its statistics); forbid both
        # to see whether the trigram index can serve the search at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        plan = queryset.explain()
    assert "inventory_vm_name_trgm" in plan
