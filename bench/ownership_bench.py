"""Ownership dashboards and permission-filtered VM lists at 100,000 VMs and 2,000 users.

Seeds a scratch test database (PostgreSQL when ``DATABASE_URL`` is set, else SQLite)
with the inventory list benchmark's 100,000 guests, then 2,000 users in 100 teams (one
manager each, 2 % of users deactivated), current ownership for 92 % of the guests
(owner, team, some custodians, leases spread from 60 days ago to 1 year ahead), one
closed history row for every fifth guest, and 26 weeks of sprawl samples per team.
Ledger rows are bulk-inserted as a fixture: writing 100,000 rows through the services
would measure the audit chain, not the dashboard.

Then times, through Django's test client: the admin dashboard, a manager's team page,
an end user's "My VMs", the dashboard JSON export, the ownership list filtered to
unowned VMs, and the inventory VM list and API as an end user and a manager (rows
filtered by the ownership visibility rule in SQL). Query counts are taken for the
dashboard over three guests and over the whole fleet, for "My VMs" over one VM and
many, and for the lists at 1 row and 50 rows (each pair must be equal). Prints one
JSON object.

Usage: ``python bench/ownership_bench.py [--guests N] [--users N] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ["API_USER_RATE"] = "1000000/min"
TARGET_DASHBOARD_P95_MS = 500.0
TARGET_LIST_P95_MS = 300.0
TEAMS = 100
WEEKS = 26


def _inventory_bench():
    """The inventory list benchmark, for its guest seeding and timing helpers."""
    from bench import inventory_list_bench

    return inventory_list_bench


def _seed_people(users: int) -> dict:
    from django.contrib.auth.models import Group

    from governance.accounts.models import Team, TeamMembership, User
    from governance.accounts.roles import Role

    teams = Team.objects.bulk_create(
        Team(name=f"Team {i:03d}", slug=f"team-{i:03d}") for i in range(TEAMS)
    )
    people = User.objects.bulk_create(
        User(
            username=f"u{i:04d}",
            email=f"u{i:04d}@example.org",
            # Every 50th user has left the company.
            is_active=i % 50 != 49,
            password="!",  # noqa: S106 - unusable; the benchmark signs in with force_login
        )
        for i in range(users)
    )
    TeamMembership.objects.bulk_create(
        TeamMembership(team=teams[i % TEAMS], user=user, is_manager=i < TEAMS)
        for i, user in enumerate(people)
    )
    end_users = Group.objects.get_or_create(name=Role.END_USER)[0]
    managers = Group.objects.get_or_create(name=Role.MANAGER)[0]
    through = User.groups.through
    through.objects.bulk_create(
        through(user_id=user.pk, group_id=(managers if i < TEAMS else end_users).pk)
        for i, user in enumerate(people)
    )
    return {"teams": teams, "users": people}


def _seed_ownership(teams: list, users: list) -> dict:
    from datetime import timedelta

    from django.utils import timezone

    from governance.ownership.models import Ownership, SprawlSample
    from inventory.models import VirtualMachine

    now = timezone.now()
    today = timezone.localdate()
    rows = []
    vm_ids = list(VirtualMachine.objects.order_by("pk").values_list("pk", flat=True))
    for n, vm_id in enumerate(vm_ids):
        if n % 25 in (3, 17):  # 8 % unowned: no row at all
            continue
        owner = users[n % len(users)]
        team = teams[n % len(users) % TEAMS]  # the owner's own team
        if n % 5 == 0:  # a closed period: someone else held it before
            rows.append(
                Ownership(
                    vm_id=vm_id,
                    owner=users[(n + 7) % len(users)],
                    team=team,
                    since=now - timedelta(days=400),
                    until=now - timedelta(days=100),
                    source="admin",
                )
            )
        rows.append(
            Ownership(
                vm_id=vm_id,
                owner=owner,
                team=team,
                custodian=users[(n + 1) % len(users)] if n % 10 == 0 else None,
                lease_end=today + timedelta(days=(n % 425) - 60) if n % 3 == 0 else None,
                since=now - timedelta(days=100 if n % 5 == 0 else 200),
                source="bulk",
            )
        )
    Ownership.objects.bulk_create(rows, batch_size=5000)
    monday = today - timedelta(days=today.weekday())
    SprawlSample.objects.bulk_create(
        SprawlSample(
            team=team,
            week=monday - timedelta(weeks=w),
            vm_count=max(0, 900 + (i * 37) % 200 - w * (i % 7)),
        )
        for i, team in enumerate(teams)
        for w in range(WEEKS)
    )
    return {"ownership_rows": len(rows), "sprawl_samples": TEAMS * WEEKS}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    inventory = _inventory_bench()
    settings.ALLOWED_HOSTS = ["*"]
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print("creating the test database ...", file=sys.stderr)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from django.utils import timezone

        from governance.accounts.roles import Role
        from governance.ownership.models import Ownership
        from tests.factories import UserFactory
        from tests.inventory.estate import make_estate

        def client_for(user) -> Client:
            client = Client()
            client.force_login(user)
            return client

        admin_user = UserFactory(username="bench-admin", roles=[Role.ADMIN])
        admin = client_for(admin_user)
        # The same dashboard over three guests, one of them owned, before the 100,000:
        # the query count must not depend on the fleet (an ownerless one skips a lookup).
        small = make_estate("bench-small")
        Ownership.objects.create(
            vm=small["web"], owner=admin_user, since=timezone.now(), source="admin"
        )
        small_dashboard_queries = inventory._queries(admin, "/ownership/")
        Ownership.objects.all().delete()  # the seeding below owns these guests too
        started = time.perf_counter()
        seeded = inventory._seed(args.guests)
        people = _seed_people(args.users)
        seeded.update(_seed_ownership(people["teams"], people["users"]))
        seeded["users"] = args.users
        seed_seconds = time.perf_counter() - started
        print(f"seeded {seeded} in {seed_seconds:.0f}s", file=sys.stderr)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        manager = client_for(people["users"][0])  # manages team 000
        end_user = client_for(people["users"][TEAMS + 1])
        # An end user who holds a single VM: the query count must not depend on rows.
        single = Ownership.objects.filter(until__isnull=True).order_by("pk").first()
        lone = UserFactory(username="bench-lone", roles=[Role.END_USER])
        Ownership.objects.filter(pk=single.pk).update(custodian=lone)
        lone_client = client_for(lone)

        cases = {
            "dashboard_admin": (admin, "/ownership/"),
            "dashboard_team_manager": (manager, "/ownership/teams/team-000/"),
            "my_vms_end_user": (end_user, "/ownership/mine/"),
            "dashboard_json_export": (admin, "/ownership/export.json"),
            "ownership_list_unowned": (admin, "/ownership/vms/?owned=no&sort=first_seen"),
            "ownership_list_end_user": (end_user, "/ownership/vms/"),
            "inventory_list_end_user": (end_user, "/inventory/vms/"),
            "inventory_list_manager": (manager, "/inventory/vms/"),
            "inventory_api_end_user": (end_user, "/api/inventory/vms/?page_size=100"),
            "inventory_api_manager": (manager, "/api/inventory/vms/?page_size=100"),
        }
        results = {}
        for name, (client, url) in cases.items():
            results[name] = inventory._time(client, url, args.repeat)
            print(f"{name}: {results[name]}", file=sys.stderr)

        def queries(client: Client, url: str) -> int:
            return inventory._queries(client, url)

        query_counts = {
            "dashboard_admin_3_vms": small_dashboard_queries,
            "dashboard_admin_100k": queries(admin, "/ownership/"),
            "dashboard_team_1k": queries(manager, "/ownership/teams/team-000/"),
            "my_vms_many": queries(end_user, "/ownership/mine/"),
            "my_vms_one": queries(lone_client, "/ownership/mine/"),
            "inventory_list_1_row": queries(lone_client, "/inventory/vms/"),
            "inventory_list_50_rows": queries(end_user, "/inventory/vms/"),
            "ownership_list_1_row": queries(lone_client, "/ownership/vms/"),
            "ownership_list_50_rows": queries(end_user, "/ownership/vms/"),
        }
        dashboards = [k for k in results if k.startswith(("dashboard", "my_vms"))]
        lists = [k for k in results if k not in dashboards]
        worst_dashboard = max(results[k]["p95_ms"] for k in dashboards)
        worst_list = max(results[k]["p95_ms"] for k in lists)
        print(
            json.dumps(
                {
                    "database": connection.vendor,
                    "seeded": seeded,
                    "seed_seconds": round(seed_seconds, 1),
                    "repeat": args.repeat,
                    "latency": results,
                    "worst_dashboard_p95_ms": worst_dashboard,
                    "target_dashboard_p95_ms": TARGET_DASHBOARD_P95_MS,
                    "worst_list_p95_ms": worst_list,
                    "target_list_p95_ms": TARGET_LIST_P95_MS,
                    "meets_targets": worst_dashboard < TARGET_DASHBOARD_P95_MS
                    and worst_list < TARGET_LIST_P95_MS,
                    "query_counts": query_counts,
                    "constant_queries": query_counts["dashboard_admin_3_vms"]
                    == query_counts["dashboard_admin_100k"]
                    and query_counts["my_vms_one"] == query_counts["my_vms_many"]
                    and query_counts["inventory_list_1_row"]
                    == query_counts["inventory_list_50_rows"]
                    and query_counts["ownership_list_1_row"]
                    == query_counts["ownership_list_50_rows"],
                }
            )
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
