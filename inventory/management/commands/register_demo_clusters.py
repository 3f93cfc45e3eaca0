"""``manage.py register_demo_clusters --info var/pvesim.json``: register pvesim's clusters.

Idempotent: a cluster registered by an earlier demo is updated to the simulator's
current URL, token and certificate (each start of the simulator mints new ones) and
its sync is queued again; a new one is registered, which queues its first sync.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.models import Cluster
from inventory.services.clusters import (
    ClusterConnectionFailed,
    cluster_register,
    cluster_sync_request,
    cluster_update,
)


def _base_url(url: str) -> str:
    """pvesim's info gives the API root (``.../api2/json``); Steward stores host and port."""
    return url.split("/api2/", 1)[0]


class Command(BaseCommand):
    help = "Register (or refresh) the clusters of a running pvesim and queue their sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--info", type=Path, required=True, help="pvesim's --info JSON file")
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            help="seconds to wait for the info file to appear (the simulator writes it once "
            "it listens)",
        )

    def handle(self, *args: Any, info: Path, wait: float, **options: Any) -> None:
        clusters = self._read(info, wait)
        for item in clusters:
            settings = {
                "url": _base_url(item["url"]),
                "token_id": item["token_id"],
                "token_secret": item["token_secret"],
                "fingerprint": item["fingerprint"],
            }
            existing = Cluster.objects.filter(name=item["name"]).first()
            try:
                if existing is None:
                    registration = cluster_register(actor=None, name=item["name"], **settings)
                    verb = "registered"
                else:
                    registration = cluster_update(actor=None, cluster=existing, **settings)
                    if registration.cluster.enabled:
                        cluster_sync_request(actor=None, cluster=registration.cluster)
                    verb = "updated"
            except ClusterConnectionFailed as exc:
                raise CommandError(f"{item['name']}: {exc.report.message}") from exc
            except ValidationError as exc:
                raise CommandError(f"{item['name']}: {'; '.join(exc.messages)}") from exc
            self.stdout.write(
                f"{item['name']}: {verb} (PVE {registration.report.version}); sync queued"
            )

    @staticmethod
    def _read(info: Path, wait: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + wait
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            clusters = json.loads(info.read_text())["clusters"]
        except FileNotFoundError as exc:
            raise CommandError(f"{info} does not exist; is pvesim running with --info?") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"{info} is not a pvesim info file: {exc}") from exc
        if not clusters:
            raise CommandError(f"{info} lists no clusters")
        return clusters
