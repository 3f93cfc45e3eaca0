"""One run at a time of a periodic job, across every worker sharing the database.

Beat queues a job on its schedule whether or not the previous run has ended; a run that
takes longer than the interval would otherwise run beside the next one on another worker,
both acting on the same rows and calling Proxmox twice. ``run_alone`` takes a lock that
a dead worker cannot leave held:

- on PostgreSQL a session advisory lock (``pg_try_advisory_lock``), which the server
  drops with the connection when the worker dies;
- elsewhere a cache key written with ``cache.add`` (atomic) and a timeout, after which a
  killed run's key expires by itself. Without ``REDIS_URL`` the cache is per process, so
  there it only keeps apart the runs of one process (SQLite set-ups, one machine).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import DatabaseError, connection

logger = logging.getLogger(__name__)


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory lock key type)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _advisory(name: str) -> Iterator[bool]:
    key = _advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except DatabaseError:
                # A broken connection has already dropped the lock with the session.
                logger.warning("run lock %s: unlock failed; the session ended it", name)


@contextmanager
def _cached(name: str, timeout: int) -> Iterator[bool]:
    key, token = f"run-lock:{name}", uuid.uuid4().hex
    held = cache.add(key, token, timeout=timeout)
    try:
        yield held
    finally:
        # Only our own key: after a timeout another run may hold the lock by now.
        if held and cache.get(key) == token:
            cache.delete(key)


@contextmanager
def run_alone(name: str, *, timeout: int) -> Iterator[bool]:
    """Yield whether this run holds the lock ``name``; a run that does not should skip.

    ``timeout`` (seconds) bounds how long a cache lock outlives a killed worker: longer
    than any run, short enough that the job resumes soon after a crash.
    """
    lock = _advisory(name) if connection.vendor == "postgresql" else _cached(name, timeout)
    with lock as held:
        if not held:
            logger.debug("%s: another run is in progress; this one skips", name)
        yield held
