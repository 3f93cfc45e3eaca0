"""Shared by the benchmarks that run real Celery processes: a scratch database for
Django and the processes, the Celery command lines, percentiles.

Not a benchmark itself (``bench/run.py`` runs only ``*_bench.py``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CELERY = ROOT / ".venv" / "bin" / "celery"


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank); 0 when empty."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def use_services(redis_db: int | None) -> None:
    """Broker, channel layer and cache on Redis database ``redis_db``, as in production;
    ``None``: the embedded ones (filesystem broker, SQLite channel layer) in a scratch
    data folder. Set before Django starts so this process and the Celery ones agree."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    if redis_db is None:
        data_dir = tempfile.mkdtemp(prefix="steward-bench-")
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
        os.environ["STEWARD_DATA_DIR"] = data_dir
        os.environ.pop("REDIS_URL", None)
        os.environ.pop("CELERY_BROKER_URL", None)
        return
    url = f"redis://127.0.0.1:6379/{redis_db}"
    os.environ["CELERY_BROKER_URL"] = url
    os.environ["REDIS_URL"] = url


@contextmanager
def scratch_database() -> Iterator[dict[str, str]]:
    """Django set up on a fresh test database (PostgreSQL when ``DATABASE_URL`` is set,
    else SQLite), dropped on exit; yields the environment for Celery processes."""
    import django

    django.setup()
    from django.conf import settings as django_settings
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        # A file (the default test database is in memory): the Celery processes share it.
        data_dir = Path(django_settings.DATA_DIR)
        connection.settings_dict["TEST"]["NAME"] = str(data_dir / "bench-test.sqlite3")
    print("creating the test database ...", file=sys.stderr)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    if "channels" in connections.databases:
        # Only the channel layer's own app: the router keeps every other table out of
        # that file, so replaying their migrations there is seconds of CPU for nothing.
        call_command(
            "migrate", "channels_lite", database="channels", verbosity=0, interactive=False
        )
    settings = connection.settings_dict
    if sqlite:
        url = f"sqlite:///{settings['NAME']}"
    else:
        url = (
            f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}"
            f"/{settings['NAME']}"
        )
    try:
        # PYTHONPATH: the Celery processes import this tree, even from another checkout.
        yield {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def cluster_register(sim) -> Any:
    """Register the pvesim cluster ``sim`` with its own token and sync it once."""
    from inventory.models import Cluster
    from inventory.sync.service import cluster_sync
    from tests.inventory.conftest import fingerprint_of_file

    cluster = Cluster.objects.create(
        name=sim.name,
        api_url=sim.url,
        token_id=sim.token_id,
        token_secret=sim.token_secret,
        fingerprint=fingerprint_of_file(sim.cert_file),
    )
    cluster_sync(cluster_id=cluster.pk)
    return cluster


def celery_start(arguments: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``celery -A governance <arguments>`` logging at INFO to ``log``."""
    command = [str(CELERY), "-A", "governance", *arguments, "--loglevel", "INFO"]
    command += ["--logfile", str(log)]
    # The banner would mix with the figures on stdout; the log file has the rest.
    return subprocess.Popen(  # noqa: S603 - our own Celery processes
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )


def worker_arguments(name: str, *, pool: str = "solo", concurrency: int = 1) -> list[str]:
    return [
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
    ]


def celery_stop(processes: list[subprocess.Popen], *, timeout: float = 30) -> None:
    """Warm shutdown (the running task finishes), killed if it takes over ``timeout``."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Worker:
    """One Celery worker as production runs it (prefork, two processes here) that can be
    stopped and started again; each life logs to a file of its own in ``log_dir``."""

    def __init__(self, name: str, *, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.env, self.log_dir = name, env, log_dir
        self.logs: list[Path] = []
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.log_dir / f"{self.name}{len(self.logs) + 1}.log"
        self.logs.append(log)
        arguments = worker_arguments(self.name, pool="prefork", concurrency=2)
        self.process = celery_start(arguments, env=self.env, log=log)

    def stop(self) -> None:
        if self.process is not None:
            celery_stop([self.process])
            self.process = None
