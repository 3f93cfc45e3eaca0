"""Reading one consistent database state on two connections at once.

``facts_load`` spends about as long waiting for PostgreSQL as it does in Python. With
``beside_reader()`` it hands part of the read to a second connection on a worker thread,
so the server answers both while Python turns rows into facts. Both connections read the
same snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``, the mechanism
``pg_dump --jobs`` uses), so the facts are exactly those of one moment, as with one
connection.

On SQLite, or inside a transaction (whose uncommitted rows another connection could not
see), the work runs on the calling connection at once: same answers, no overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction

T = TypeVar("T")
Beside = Callable[[Callable[[], T]], Callable[[], T]]

_SNAPSHOT_READ = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def at_once(work: Callable[[], T]) -> Callable[[], T]:
    result = work()
    return lambda: result


def _in_snapshot(alias: str, snapshot: str, work: Callable[[], T]) -> T:
    """Run ``work`` on this thread's own connection, reading ``snapshot``; then close it."""
    connection = connections[alias]
    try:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute(_SNAPSHOT_READ)
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
            return work()
    finally:
        connection.close()


@contextmanager
def beside_reader(alias: str = DEFAULT_DB_ALIAS) -> Iterator[Beside]:
    """Yield ``beside(work)``: starts ``work`` (a function of ORM reads) and returns a
    function that waits for its result. Everything read inside the ``with`` block, here
    and beside, sees one snapshot."""
    connection = connections[alias]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield at_once
        return
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.execute(_SNAPSHOT_READ)
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="beside-read") as pool:
            yield lambda work: pool.submit(_in_snapshot, alias, snapshot, work).result
