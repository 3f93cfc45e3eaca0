"""A real Celery worker killed (SIGKILL) while a Proxmox task of an execution runs: the
request resumes on a new worker and no Proxmox step runs twice.

The worker processes share the test database, so PostgreSQL only (the SQLite test
database lives in this process's memory). Broker on Redis database 13 (``REDIS_URL``'s
server); pvesim's clock slowed so the snapshot delete runs for several wall seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from bench import harness
from governance.approvals import tasks
from governance.approvals.execution import runner
from governance.approvals.models import Request
from governance.approvals.services.executions import request_approved
from governance.celery import app
from inventory.models import Copy, CopyKind, VirtualMachine
from pvesim.clock import Clock
from pvesim.testing import SimFarm
from tests.factories import UserFactory
from tests.inventory.conftest import sim_certificate  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROKER = "redis://127.0.0.1:6379/13"
#: Wall seconds pvesim's snapshot delete (1 simulated second) lasts.
TASK_SECONDS = 8.0


@pytest.fixture
def queued(monkeypatch):
    """Execution messages go to the broker the worker processes read (this overrides the
    engine suite's recording fixture)."""

    def send(args, kwargs=None, **options):
        with app.connection_for_write(BROKER) as broker:
            app.send_task(
                "approvals.execution_advance",
                args=args,
                kwargs=kwargs,
                connection=broker,
                **options,
            )

    monkeypatch.setattr("governance.approvals.tasks.execution_advance.apply_async", send)


def _until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout:.0f} s")


def _worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    process = harness.celery_start(harness.worker_arguments(name), env=env, log=log)
    _until(
        lambda: log.exists() and " ready." in log.read_text(errors="replace"),
        timeout=20,
        what=f"worker {name} ready",
    )
    return process


def test_a_killed_worker_s_execution_resumes_without_running_a_step_twice(
    sim_certificate,  # noqa: F811 - the fixture imported above
    queued,
    monkeypatch,
    tmp_path,
):
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the database: run with a PostgreSQL DATABASE_URL")
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    farm = SimFarm(certificate=sim_certificate, clock=Clock(start=time.time(), speed=0.0))
    workers: list[subprocess.Popen] = []
    try:
        sim = farm.start(identity="root", guests=12, nodes=2)
        guest = next(
            g
            for g in sim.cluster.estate.guests.values()
            if g.kind == "qemu" and not g.config.get("template") and not g.lock
        )
        path = f"/nodes/{guest.node}/qemu/{guest.vmid}/snapshot"
        sim.api("POST", path, data={"snapname": "s1"}).raise_for_status()
        sim.advance(120)
        cluster = harness.cluster_register(sim)
        vm = VirtualMachine.objects.get(cluster=cluster, vmid=guest.vmid)
        assert Copy.objects.filter(kind=CopyKind.SNAPSHOT, vm=vm, deleted_at__isnull=True)

        settings = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:"
            f"{settings['PORT']}/{settings['NAME']}",
            "CELERY_BROKER_URL": BROKER,
            "REDIS_URL": BROKER,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(harness.ROOT),
        }
        workers.append(_worker("killed", env, tmp_path / "killed.log"))
        farm.clock.set_speed(1.0 / TASK_SECONDS)
        now = timezone.now()
        with transaction.atomic():
            request = Request.objects.create(
                kind="snapshot_delete",
                requester=UserFactory(),
                vm=vm,
                cluster=cluster,
                parameters={"snapshot": "s1"},
                idempotency_key=uuid.uuid4().hex,
                created_at=now,
                updated_at=now,
            )
            execution = request_approved(request, actor=None, now=now, message="test")
        step = execution.steps.get(name="delete")

        def waiting() -> bool:
            step.refresh_from_db()
            return step.state == "waiting_task" and bool(step.upid)

        _until(waiting, timeout=20, what="the delete task started")
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
        assert sim.cluster.tasks.tasks[step.upid].exitstatus is None, "killed after the task ended"

        workers.append(_worker("resumed", env, tmp_path / "resumed.log"))
        # The beat's resume, without its 30 s grace (the message died with the worker).
        due = runner.executions_due
        monkeypatch.setattr(runner, "executions_due", lambda: due(grace=0))
        # The dead worker had scheduled its next poll of the task: the execution is
        # overdue (what the beat looks for) only once that moment has passed.
        _until(lambda: due(grace=0) == [execution.pk], timeout=30, what="the poll overdue")
        assert tasks.executions_resume() == [execution.pk]

        def ended() -> bool:
            execution.refresh_from_db()
            return execution.state != "running"

        _until(ended, timeout=TASK_SECONDS + 15, what="the execution ended")
    finally:
        harness.celery_stop(workers, timeout=10)
        farm.stop()

    assert execution.state == "succeeded", execution.error
    deletes = [
        t
        for t in sim.cluster.tasks.tasks.values()
        if t.type == "qmdelsnapshot" and t.id == str(guest.vmid)
    ]
    assert len(deletes) == 1, [t.upid for t in deletes]
    assert "s1" not in guest.snapshots
    assert {s.name: s.attempts for s in execution.steps.all()} == {
        s.name: 1 for s in execution.steps.all()
    }
    step.refresh_from_db()
    assert step.upid == deletes[0].upid
    assert execution.request.state == "succeeded"
    assert not Copy.objects.filter(kind=CopyKind.SNAPSHOT, vm=vm, deleted_at__isnull=True)
    assert Copy.objects.filter(kind=CopyKind.SNAPSHOT, vm=vm, name="s1").count() == 1
