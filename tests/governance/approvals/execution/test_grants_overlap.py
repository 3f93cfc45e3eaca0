"""Access-grant reconcile runs never overlap: a run started while another is in progress
(beat every 15 s, a slow Proxmox, two workers) skips, and a killed run's lock does not
stay held. On PostgreSQL the lock is an advisory lock, elsewhere a cache key."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
from django.db import connection, connections

from governance.approvals import grant_tasks
from governance.approvals.run_lock import _advisory_key, run_alone
from governance.approvals.services import grants

pytestmark = pytest.mark.django_db

NOTHING = {"started": 0, "ended": 0, "failed": 0}


def test_a_run_started_while_another_is_in_progress_skips(monkeypatch, caplog):
    inside, release = threading.Event(), threading.Event()
    runs: list[str] = []
    answers: dict[str, object] = {}

    def slow_reconcile(now):
        runs.append(threading.current_thread().name)
        inside.set()
        assert release.wait(20), "the test never let the first run finish"
        return NOTHING

    def first_run():
        try:
            answers["first"] = grant_tasks.grants_reconcile()
        finally:
            connection.close()  # the worker thread's own connection

    monkeypatch.setattr(grants, "_reconcile", slow_reconcile)
    worker = threading.Thread(target=first_run, name="first-run")
    worker.start()
    try:
        assert inside.wait(20)
        with caplog.at_level(logging.DEBUG, logger="governance.approvals.run_lock"):
            assert grant_tasks.grants_reconcile() is None
        assert "another run is in progress; this one skips" in caplog.text
    finally:
        release.set()
        worker.join(20)
    assert answers["first"] == NOTHING
    assert runs == ["first-run"]

    # The first run's end freed the lock: the next beat runs.
    assert grant_tasks.grants_reconcile() == NOTHING
    assert runs == ["first-run", threading.current_thread().name]


def _other_session_holds(name: str):
    """A second database session, as another worker's, holding the advisory lock; its
    server process id."""
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s), pg_backend_pid()", [_advisory_key(name)])
        pid = cursor.fetchone()[1]
    return other, pid


def _wait_session_gone(pid: int) -> None:
    """The server notices a closed client a moment later; wait for that, not longer."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # the test's transaction
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError(f"session {pid} still open 10 s after its client closed")


def test_a_killed_runs_lock_is_not_left_held():
    name = f"test-lock-{uuid.uuid4().hex}"
    if connection.vendor == "postgresql":
        other, pid = _other_session_holds(name)
        with run_alone(name, timeout=60) as held:
            assert not held
        other.close()  # the worker dies: PostgreSQL ends its session and its locks
        _wait_session_gone(pid)
    else:
        dead = run_alone(name, timeout=1)
        assert dead.__enter__()  # entered, never left: the worker was killed mid-run
        with run_alone(name, timeout=1) as held:
            assert not held
        time.sleep(1.2)
    with run_alone(name, timeout=60) as held:
        assert held
