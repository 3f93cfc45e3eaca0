"""VM list page and API at 100,000 guests: p50/p95 latency and SQL query counts.

Seeds a scratch test database (PostgreSQL when ``DATABASE_URL`` is set, else SQLite)
with 100 clusters (one of 15,000 guests, the rest ~860 each), 3 nodes each, one NIC
per guest, then times requests through Django's test client (the whole stack but the
network): first page, a deep page at row 99,900 by cursor, a filtered page, and
searches by name and MAC, for the page and the API (``page_size=100``). Also records
the queries one request issues for 1 row and for 100 rows. Prints one JSON object.

Usage: ``python bench/inventory_list_bench.py [--guests N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
# The benchmark is one user hammering the API; the production rate limit would answer 429.
os.environ["API_USER_RATE"] = "1000000/min"
TARGET_P95_MS = 300.0


def _seed(total: int) -> dict:
    from datetime import timedelta

    from django.utils import timezone

    from inventory.models import Cluster, GuestNic, Node, VirtualMachine

    now = timezone.now()
    sizes = [15_000] + [0] * 99
    rest = total - 15_000 if total > 15_000 else 0
    if total <= 15_000:
        sizes = [total] + [0] * 99
    for i in range(1, 100):
        sizes[i] = rest // 99 + (1 if i <= rest % 99 else 0)
    words = ["web", "db", "cache", "build", "mail", "proxy", "ci", "vpn", "log", "app"]
    created = 0
    for index, size in enumerate(sizes):
        cluster = Cluster.objects.create(
            name=f"pve-{index:03d}",
            api_url=f"https://10.0.{index}.1:8006",
            token_id="steward@pve!sync",  # noqa: S106 - a token id
            token_secret="bench",  # noqa: S106 - seeded rows never reach Proxmox
            fingerprint="ab" * 32,
        )
        nodes = Node.objects.bulk_create(
            Node(cluster=cluster, name=f"n{j}", status="online", first_seen=now, last_seen=now)
            for j in range(3)
        )
        guests = []
        for k in range(size):
            vmid = 100 + k
            running = k % 4 != 0
            tags = [words[k % 10], "prod" if k % 3 else "test"]
            guests.append(
                VirtualMachine(
                    cluster=cluster,
                    vmid=vmid,
                    kind="qemu" if k % 5 else "lxc",
                    name=f"{words[(k * 7) % 10]}-{index}-{vmid}",
                    node=nodes[k % 3],
                    status="running" if running else "stopped",
                    tags=sorted(tags),
                    tags_text=";".join(sorted(tags)),
                    template=k % 97 == 0,
                    smbios_uuid=f"{index:08x}-0000-4000-8000-{vmid:012x}",
                    first_seen=now - timedelta(days=120),
                    last_seen=now,
                    last_running=now if running else now - timedelta(days=k % 90),
                )
            )
        VirtualMachine.objects.bulk_create(guests, batch_size=5000)
        ids = VirtualMachine.objects.filter(cluster=cluster).values_list("id", "vmid")
        GuestNic.objects.bulk_create(
            (
                GuestNic(vm_id=pk, key="net0", mac=_mac(index, vmid), model="virtio")
                for pk, vmid in ids
            ),
            batch_size=5000,
        )
        created += size
    return {"clusters": 100, "guests": created}


def _mac(index: int, vmid: int) -> str:
    raw = f"bc2411{index:02x}{vmid:04x}"[-12:].upper()
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def _time(client, url: str, repeat: int) -> dict:
    client.get(url)  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
    return {
        "url": url,
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(samples[-1], 1),
    }


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    settings.ALLOWED_HOSTS = ["*"]
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print("creating the test database ...", file=sys.stderr)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from governance.accounts.roles import Role
        from inventory.keyset import cursor_for
        from inventory.models import VirtualMachine
        from inventory.selectors.guests import VM_SORTS
        from tests.factories import UserFactory

        started = time.perf_counter()
        seeded = _seed(args.guests)
        seed_seconds = time.perf_counter() - started
        print(f"seeded {seeded} in {seed_seconds:.0f}s", file=sys.stderr)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        client = Client()
        client.force_login(UserFactory(roles=[Role.AUDITOR]))
        order = list(VM_SORTS["name"])
        deep_row = VirtualMachine.objects.select_related("cluster").order_by(*order)[
            max(0, seeded["guests"] - 100)
        ]
        deep = cursor_for(deep_row, order)
        mac = _mac(0, 4242)
        page, api = "/inventory/vms/", "/api/inventory/vms/"
        cases = {
            "page_first": page,
            "page_deep": f"{page}?cursor={deep}",
            "page_filtered": f"{page}?cluster=pve-000&status=stopped&tag=prod",
            "page_search_name": f"{page}?q=web-0-42",
            "page_search_mac": f"{page}?q={mac}",
            "api_first": f"{api}?page_size=100",
            "api_deep": f"{api}?page_size=100&cursor={deep}",
            "api_filtered": f"{api}?page_size=100&cluster=pve-000&status=stopped&tag=prod",
            "api_search_name": f"{api}?page_size=100&q=web-0-42",
            "api_search_mac": f"{api}?page_size=100&q={mac}",
        }
        results = {name: _time(client, url, args.repeat) for name, url in cases.items()}
        one = f"q={mac}"
        query_counts = {
            "page_1_row": _queries(client, f"{page}?{one}"),
            "page_50_rows": _queries(client, page),
            "api_1_row": _queries(client, f"{api}?{one}"),
            "api_100_rows": _queries(client, f"{api}?page_size=100"),
        }
        worst = max(r["p95_ms"] for r in results.values())
        first, deepest = results["page_first"]["p95_ms"], results["page_deep"]["p95_ms"]
        print(
            json.dumps(
                {
                    "database": connection.vendor,
                    "seeded": seeded,
                    "seed_seconds": round(seed_seconds, 1),
                    "repeat": args.repeat,
                    "latency": results,
                    "worst_p95_ms": worst,
                    "target_p95_ms": TARGET_P95_MS,
                    "meets_target": worst < TARGET_P95_MS,
                    "deep_over_first_page_p95": round(deepest / first, 2) if first else None,
                    "query_counts": query_counts,
                    "constant_queries": query_counts["page_1_row"] == query_counts["page_50_rows"]
                    and query_counts["api_1_row"] == query_counts["api_100_rows"],
                }
            )
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
