"""The exposure report's selectors: who lived on a node in a window, and what was copied of
them since; permission scoping; constant query counts; subqueries, never id lists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.accounts.roles import Role
from governance.ownership.models import Ownership
from inventory.models import Copy, Node, Residency, VirtualMachine
from inventory.selectors.ledgers import (
    exposure,
    exposure_batches,
    exposure_guests,
    exposure_nodes,
    exposure_summary,
)
from tests.factories import TeamFactory, UserFactory
from tests.inventory.estate import make_cluster, vm_row

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
_ID_LIST = re.compile(r"IN \((\s*(%s|\d+)\s*,){9,}")
SINCE, UNTIL = NOW - timedelta(days=10), NOW - timedelta(days=5)


@pytest.fixture
def place():
    cluster = make_cluster("expo-a")
    nodes = [
        Node.objects.create(cluster=cluster, name=name, first_seen=NOW, last_seen=NOW)
        for name in ("host1", "host2")
    ]
    return cluster, nodes[0], nodes[1]


def guest(cluster, vmid: int, **fields) -> VirtualMachine:
    vm = vm_row(cluster, None, vmid, now=NOW, **fields)
    vm.save()
    return vm


def stay(vm, node, start, end=None, cause="migrate") -> Residency:
    return Residency.objects.create(vm=vm, node=node, started_at=start, ended_at=end, cause=cause)


def copy(vm, name: str, at, storage_class: str = "approved", kind: str = "backup") -> Copy:
    return Copy.objects.create(
        vm=vm,
        cluster=vm.cluster,
        source_vmid=vm.vmid,
        kind=kind,
        name=name,
        storage_name="usb1" if storage_class == "removable" else "pbs",
        storage_class=storage_class,
        created_at=at,
    )


def ask(user, node):
    return exposure(user=user, node=node, since=SINCE, until=UNTIL)


def test_stays_overlapping_the_window_count_and_others_do_not(place):
    cluster, host1, host2 = place
    auditor = UserFactory(roles=[Role.AUDITOR])
    spanning = guest(cluster, 100, name="spanning")
    stay(spanning, host1, SINCE - timedelta(days=3), UNTIL + timedelta(days=1))
    still_there = guest(cluster, 101, name="open")
    stay(still_there, host1, SINCE - timedelta(days=30))
    left_before = guest(cluster, 102, name="left-before")
    stay(left_before, host1, SINCE - timedelta(days=3), SINCE - timedelta(seconds=1))
    came_after = guest(cluster, 103, name="came-after")
    stay(came_after, host1, UNTIL + timedelta(seconds=1))
    elsewhere = guest(cluster, 104, name="elsewhere")
    stay(elsewhere, host2, SINCE, UNTIL)
    edge = guest(cluster, 105, name="left-at-start")
    stay(edge, host1, SINCE - timedelta(days=1), SINCE)

    found = {entry.vm.name: entry for entry in ask(auditor, host1)}

    assert set(found) == {"spanning", "open", "left-at-start"}
    assert [s.ended_at for s in found["open"].stays] == [None]
    assert found["spanning"].stays[0].started_at == SINCE - timedelta(days=3)


def test_copies_from_the_window_start_on_only_and_gone_guests_kept(place):
    cluster, host1, _ = place
    auditor = UserFactory(roles=[Role.AUDITOR])
    gone = guest(cluster, 200, name="gone", gone_since=NOW - timedelta(days=1))
    stay(gone, host1, SINCE + timedelta(hours=1), SINCE + timedelta(hours=2))
    copy(gone, "before", SINCE - timedelta(seconds=1))
    copy(gone, "at-start", SINCE)
    copy(gone, "later-elsewhere", NOW - timedelta(days=2), "removable")

    [entry] = ask(auditor, host1)

    assert entry.vm.gone_since is not None
    assert [c.name for c in entry.copies] == ["at-start", "later-elsewhere"]
    summary = exposure_summary(user=auditor, node=host1, since=SINCE, until=UNTIL)
    assert (summary.guests, summary.copies, summary.risky_copies) == (1, 2, 1)


def test_end_users_see_only_their_own_guests_and_nodes(place):
    cluster, host1, host2 = place
    alice, bob = UserFactory(roles=[Role.END_USER]), UserFactory(roles=[Role.END_USER])
    team = TeamFactory()
    mine, theirs = guest(cluster, 300, name="mine"), guest(cluster, 301, name="theirs")
    for vm in (mine, theirs):
        stay(vm, host1, SINCE, UNTIL)
    Ownership.objects.create(vm=mine, owner=alice, team=team, since=NOW, source="admin")

    assert [e.vm.name for e in ask(alice, host1)] == ["mine"]
    assert ask(bob, host1) == []
    assert list(exposure_nodes(user=alice)) == [host1]
    assert list(exposure_nodes(user=bob)) == []
    auditor = UserFactory(roles=[Role.AUDITOR])
    with CaptureQueriesContext(connection) as captured:
        assert set(exposure_nodes(user=auditor)) == {host1, host2}
    assert not any("token_secret" in sql["sql"] for sql in captured.captured_queries)
    [holder] = exposure_guests(user=alice, node=host1, since=SINCE, until=UNTIL)
    assert (holder.owner_name, holder.team_name) == (alice.username, team.name)


def test_constant_queries_and_no_id_lists_for_200_guests(place, django_assert_max_num_queries):
    cluster, host1, _ = place
    auditor = UserFactory(roles=[Role.AUDITOR])
    guests = VirtualMachine.objects.bulk_create(
        [vm_row(cluster, None, 1000 + i, now=NOW) for i in range(200)]
    )
    Residency.objects.bulk_create(
        Residency(vm=vm, node=host1, started_at=SINCE, ended_at=UNTIL, cause="start")
        for vm in guests
    )
    Copy.objects.bulk_create(
        Copy(vm=vm, cluster=cluster, source_vmid=vm.vmid, kind="snapshot", name="s", created_at=NOW)
        for vm in guests
    )
    auditor.has_perm("inventory.view_virtualmachine")  # warm the permission cache
    with django_assert_max_num_queries(3), CaptureQueriesContext(connection) as captured:
        report = ask(auditor, host1)
    assert len(report) == 200
    assert all(len(entry.copies) == 1 for entry in report)
    # A list of ids in Python would be spliced into the SQL as "IN (1, 2, 3, ...)".
    assert not any(_ID_LIST.search(sql["sql"]) for sql in captured.captured_queries)
    # Each cluster token read is decrypted: on 5,000 guests that was most of the time.
    assert not any("token_secret" in sql["sql"] for sql in captured.captured_queries)
    batches = list(exposure_batches(user=auditor, node=host1, since=SINCE, until=UNTIL, size=150))
    assert [len(b) for b in batches] == [150, 50]
