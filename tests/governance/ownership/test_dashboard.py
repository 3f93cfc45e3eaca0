"""Dashboard building blocks: what each number counts, per scope, in constant queries.

Ownership rows are written directly here (the selectors read any ledger state); the
flows that write them through the services are tested with the pages and the API.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from governance.ownership.dashboard import (
    DASHBOARD_QUERIES,
    Scope,
    dashboard_build,
)
from governance.ownership.forms import OwnershipFilterForm
from governance.ownership.lists import owned_vm_list
from governance.ownership.models import Ownership, SprawlSample
from tests.inventory.estate import make_cluster, vm_row

pytestmark = pytest.mark.django_db

TODAY = date(2030, 6, 10)


def own(vm, *, owner=None, team=None, custodian=None, lease_end=None, days_ago=10, until=None):
    return Ownership.objects.create(
        vm=vm,
        owner=owner,
        team=team,
        custodian=custodian,
        lease_end=lease_end,
        since=timezone.now() - timedelta(days=days_ago),
        until=until,
        source="admin",
    )


@pytest.fixture
def fleet(people):
    """Six live guests and one destroyed, in every ownership situation the dashboard counts."""
    now = timezone.now()
    cluster = make_cluster()
    rows = {
        "a1": vm_row(cluster, None, 100, now=now, maxcpu=4, maxmem=8 << 30),
        "a2": vm_row(cluster, None, 101, now=now, maxcpu=2, maxmem=2 << 30),
        "b1": vm_row(cluster, None, 102, now=now, maxcpu=1, maxmem=1 << 30),
        "team_only": vm_row(cluster, None, 103, now=now, first_seen=now - timedelta(days=50)),
        "bare": vm_row(
            cluster,
            None,
            104,
            now=now,
            status="stopped",
            last_running=now - timedelta(days=200),
            first_seen=now - timedelta(days=300),
        ),
        "carol": vm_row(cluster, None, 105, now=now),
        "gone": vm_row(cluster, None, 106, now=now, gone_since=now),
    }
    created = type(rows["a1"]).objects.bulk_create(rows.values())
    vms = dict(zip(rows, created, strict=True))
    # a1 changed hands: carol's old row is closed and must not count for her.
    own(vms["a1"], owner=people.carol, days_ago=40, until=timezone.now() - timedelta(days=20))
    own(vms["a1"], owner=people.alice, team=people.ops, lease_end=TODAY + timedelta(days=3))
    own(vms["a2"], owner=people.alice, team=people.ops, custodian=people.bob)
    own(vms["b1"], owner=people.bob, team=people.ops, lease_end=TODAY - timedelta(days=1))
    own(vms["team_only"], team=people.dev)
    own(vms["carol"], owner=people.carol, team=people.dev)
    own(vms["gone"], owner=people.alice, team=people.ops)
    people.bob.is_active = False
    people.bob.save(update_fields=["is_active"])
    return vms


def _numbers(dashboard):
    return {figure.key: figure.value for figure in dashboard.figures}


def test_fleet_figures_count_live_vms_by_their_current_row(people, fleet):
    dashboard = dashboard_build(viewer=people.admin, scope=Scope("all", "All"), today=TODAY)
    assert _numbers(dashboard) == {
        "total": 6,
        "owned": 4,
        "unowned": 2,
        "no_team": 1,
        "owner_left": 1,
        "dormant": 1,
        "lease_expiring": 1,
        "lease_expired": 1,
    }
    assert [(h.label, h.vms) for h in dashboard.by_team] == [("Ops", 3), ("Dev", 2), ("", 1)]
    assert [(h.key, h.vms, h.active) for h in dashboard.by_owner] == [
        ("alice", 2, True),
        ("bob", 1, False),
        ("carol", 1, True),
    ]
    assert dashboard.by_owner[0].cpu == 6
    assert dashboard.by_owner[0].mem == 10 << 30
    assert [h.key for h in dashboard.by_resources] == ["alice", "bob", "carol"]
    # Oldest first: "bare" (300 days) before "team_only" (50 days).
    assert [line.vmid for line in dashboard.unowned] == [104, 103]
    assert [line.vmid for line in dashboard.owner_left] == [102]
    assert [(line.vmid, line.owner) for line in dashboard.leases] == [(102, "bob"), (100, "alice")]


def test_every_figure_links_to_a_list_of_exactly_what_it_counts(people, fleet):
    scopes = [
        Scope("all", "All"),
        Scope("team", "Ops", team=people.ops),
        Scope("mine", "Mine", user=people.alice),
    ]
    for scope in scopes:
        # "mine" is relative to whoever opens the list, so alice opens hers.
        viewer = people.alice if scope.kind == "mine" else people.admin
        dashboard = dashboard_build(viewer=viewer, scope=scope)
        links = [(f.key, f.query, f.value) for f in dashboard.figures] + [
            (h.key, h.query, h.vms) for h in [*dashboard.by_team, *dashboard.by_owner]
        ]
        for key, query, value in links:
            form = OwnershipFilterForm({k: v[0] for k, v in parse_qs(query).items()})
            assert form.is_valid(), form.errors
            listed = owned_vm_list(
                user=viewer, filters=form.filters(), ownership=form.ownership_filters()
            )
            assert listed.count() == value, (scope.kind, key, query)


def test_team_scope_counts_the_team_only(people, fleet):
    dashboard = dashboard_build(
        viewer=people.manager, scope=Scope("team", "Ops", team=people.ops), today=TODAY
    )
    numbers = _numbers(dashboard)
    assert "no_team" not in numbers
    assert numbers["total"] == 3
    assert numbers["owner_left"] == 1
    assert all(f.query.startswith("team=ops") for f in dashboard.figures)


def test_mine_scope_counts_owned_and_custodian_vms(people, fleet):
    carol = dashboard_build(viewer=people.carol, scope=Scope("mine", "Mine", user=people.carol))
    assert _numbers(carol)["total"] == 1
    alice = dashboard_build(viewer=people.alice, scope=Scope("mine", "Mine", user=people.alice))
    assert _numbers(alice)["total"] == 2
    assert all("mine=yes" in f.query for f in alice.figures)


def test_a_viewer_never_counts_vms_they_cannot_see(people, fleet):
    # carol asks for the fleet: restrict() leaves her own VM only.
    dashboard = dashboard_build(viewer=people.carol, scope=Scope("all", "All"))
    assert _numbers(dashboard)["total"] == 1


def test_sprawl_comes_from_weekly_samples(people, fleet):
    monday = TODAY - timedelta(days=TODAY.weekday())
    SprawlSample.objects.bulk_create(
        [
            SprawlSample(team=people.ops, week=monday - timedelta(weeks=1), vm_count=2),
            SprawlSample(team=people.ops, week=monday, vm_count=3),
            SprawlSample(team=people.dev, week=monday, vm_count=2),
            SprawlSample(team=None, week=monday, vm_count=1),
            # Older than the window: left out.
            SprawlSample(team=people.dev, week=monday - timedelta(weeks=60), vm_count=9),
        ]
    )
    fleet_view = dashboard_build(viewer=people.admin, scope=Scope("all", "All"), today=TODAY)
    assert len(fleet_view.sprawl.weeks) == 2
    assert {s.label: s.values for s in fleet_view.sprawl.series} == {
        "Ops": (2, 3),
        "Dev": (0, 2),
        "No team": (0, 1),
    }
    team_view = dashboard_build(
        viewer=people.manager, scope=Scope("team", "Ops", team=people.ops), today=TODAY
    )
    assert [s.label for s in team_view.sprawl.series] == ["Ops"]


@pytest.mark.parametrize("extra", [0, 25])
def test_the_dashboard_costs_a_fixed_number_of_queries(
    people, fleet, extra, django_assert_num_queries
):
    cluster = fleet["a1"].cluster
    now = timezone.now()
    more = type(fleet["a1"]).objects.bulk_create(
        vm_row(cluster, None, 500 + i, now=now) for i in range(extra)
    )
    for vm in more:
        own(vm, owner=people.carol, team=people.dev)
    # Warm the admin's permission cache: it belongs to the request, not the dashboard.
    people.admin.has_perm("inventory.view_virtualmachine")
    with django_assert_num_queries(DASHBOARD_QUERIES):
        dashboard_build(viewer=people.admin, scope=Scope("all", "All"), limit=None)


def test_every_scope_goes_through_restrict(people, fleet):
    """Team and "mine" scopes are narrowed by restrict() too (the one door): a scope
    opened for someone who may not see its VMs counts nothing."""
    from governance.ownership.dashboard import scoped_vms

    assert scoped_vms(viewer=people.manager, scope=Scope("team", "Ops", team=people.ops)).count()
    assert not scoped_vms(viewer=people.alice, scope=Scope("team", "Dev", team=people.dev)).count()
    assert not scoped_vms(
        viewer=people.carol, scope=Scope("mine", "Mine", user=people.alice)
    ).count()
    mine = scoped_vms(viewer=people.alice, scope=Scope("mine", "Mine", user=people.alice))
    assert set(mine.values_list("name", flat=True)) == {
        fleet["a1"].name,
        fleet["a2"].name,
    }
