"""``manage.py sync [--cluster NAME] [--full]``: sync now, with a progress bar and a summary."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from inventory.models import Cluster, Copy, Lineage, Residency, Rollback, SyncRun, SyncRunStatus
from inventory.sync.service import cluster_sync

# Summary lines, in this order, for the counters a run's stats carry (others follow).
_COUNTERS = (
    ("guests_seen", "guests seen"),
    ("guests_created", "created"),
    ("guests_updated", "updated"),
    ("guests_gone", "gone"),
    ("configs_read", "configs read"),
)


class _Bar:
    """One tqdm bar per read step ("configs", "storage"), replaced when the step changes."""

    def __init__(self, cluster: str, stream: Any) -> None:
        self.cluster = cluster
        self.stream = stream
        self.step = ""
        self.bar: tqdm | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self.step or self.bar is None:
            self.close()
            self.step = step
            self.bar = tqdm(
                total=total, desc=f"{self.cluster} {step}", unit="", file=self.stream, leave=False
            )
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = "Sync the inventory of one or all enabled clusters now, in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cluster", help="name of the cluster (default: all enabled)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="re-read every guest config and snapshot list, not only the changed ones",
        )

    def handle(self, *args: Any, cluster: str | None, full: bool, **options: Any) -> None:
        if cluster:
            clusters = list(Cluster.objects.filter(name=cluster))
            if not clusters:
                raise CommandError(f"no cluster named {cluster!r}")
        else:
            clusters = list(Cluster.objects.filter(enabled=True))
            if not clusters:
                raise CommandError("no enabled cluster; register one with `manage.py cluster_add`")
        failed = 0
        for item in clusters:
            started = time.monotonic()
            # tqdm redraws with "\r"; Django's OutputWrapper would append a newline to each.
            bar = _Bar(item.name, self.stderr._out)
            try:
                run = cluster_sync(cluster_id=item.pk, full=full, progress=bar)
            finally:
                bar.close()
            if run is None:
                self.stdout.write(f"{item.name}: skipped, another sync of it is running")
                continue
            self._summary(item, run, time.monotonic() - started)
            failed += run.status == SyncRunStatus.FAILED
        if failed:
            raise CommandError(f"{failed} of {len(clusters)} cluster syncs failed")

    def _summary(self, cluster: Cluster, run: SyncRun, seconds: float) -> None:
        stats = dict(run.stats or {})
        calls: dict[str, int] = stats.pop("api_calls", None) or stats.pop("calls", None) or {}
        style = {
            SyncRunStatus.OK: self.style.SUCCESS,
            SyncRunStatus.PARTIAL: self.style.WARNING,
        }.get(run.status, self.style.ERROR)
        self.stdout.write(style(f"{cluster.name}: {run.status} in {seconds:.1f} s"))
        for key, label in _COUNTERS:
            if key in stats:
                self.stdout.write(f"  {label}: {stats.pop(key)}")
        for key, value in sorted(stats.items()):
            if isinstance(value, int | float | str):
                self.stdout.write(f"  {key.replace('_', ' ')}: {value}")
        ledgers = {
            "residency": Residency.objects.filter(vm__cluster=cluster).count(),
            "copies": Copy.objects.filter(cluster=cluster).count(),
            "lineage": Lineage.objects.filter(child__cluster=cluster).count(),
            "rollbacks": Rollback.objects.filter(vm__cluster=cluster).count(),
        }
        self.stdout.write("  ledger rows: " + ", ".join(f"{k} {v}" for k, v in ledgers.items()))
        if calls:
            self.stdout.write(f"  API calls: {sum(calls.values())}")
            for endpoint, count in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
                self.stdout.write(f"    {count:>6}  {endpoint}")
        if run.error:
            self.stdout.write(style(f"  error: {run.error}"))
