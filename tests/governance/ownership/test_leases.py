"""Lease warnings at 14, 7 and 1 days and on expiry, each sent once; sprawl samples."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from governance.notifications.models import Notification
from governance.ownership.leases import (
    lease_threshold,
    lease_warnings_send,
    sprawl_record,
    week_start,
)
from governance.ownership.models import LeaseThreshold, LeaseWarning, SprawlSample
from governance.ownership.selectors import leases_expired, leases_expiring
from governance.ownership.services import ownership_assign

TODAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (30, None),
        (15, None),
        (14, "14"),
        (8, "14"),
        (7, "7"),
        (2, "7"),
        (1, "1"),
        (0, "1"),
        (-1, "expired"),
    ],
)
def test_the_tightest_threshold_reached_is_due(days_left, expected):
    assert lease_threshold(lease_end=TODAY + timedelta(days=days_left), today=TODAY) == expected


@pytest.mark.django_db
def test_each_warning_goes_once_to_owner_and_custodian(people, estate):
    web = estate["web"]
    today = timezone.localdate()
    ownership_assign(
        actor=people.admin,
        vm=web,
        owner=people.alice,
        custodian=people.bob,
        lease_end=today + timedelta(days=14),
        reason="project",
    )
    sent = []
    for day in range(17):
        sent.append(lease_warnings_send(today=today + timedelta(days=day)))

    # 14 days, 7 days, 1 day before, then expired; nothing else, nothing twice.
    assert sent.count(1) == 4
    assert sum(sent) == 4
    assert sorted(LeaseWarning.objects.values_list("threshold", flat=True)) == sorted(
        ["14", "7", "1", "expired"]
    )
    for user in (people.alice, people.bob):
        kinds = set(Notification.objects.filter(user=user).values_list("kind", flat=True))
        assert {"lease.14", "lease.7", "lease.1", "lease.expired"} <= kinds
    assert not Notification.objects.filter(user=people.carol).exists()


@pytest.mark.django_db
def test_an_extended_lease_is_warned_about_afresh_and_expired_leases_are_listed(people, estate):
    web = estate["web"]
    today = timezone.localdate()
    ownership_assign(
        actor=people.admin,
        vm=web,
        owner=people.alice,
        lease_end=today + timedelta(days=3),
        reason="r",
    )
    assert lease_warnings_send(today=today) == 1
    assert lease_warnings_send(today=today) == 0
    assert list(leases_expiring(within_days=7, today=today).values_list("vm", flat=True)) == [
        web.pk
    ]
    ownership_assign(actor=people.admin, vm=web, lease_end=today + timedelta(days=5), reason="r")
    assert lease_warnings_send(today=today) == 1
    assert not leases_expired(today=today).exists()
    assert list(leases_expired(today=today + timedelta(days=6))) != []
    assert LeaseWarning.objects.filter(threshold=LeaseThreshold.DAYS_7).count() == 2


@pytest.mark.django_db
def test_sprawl_backfills_every_week_and_counts_vms_per_team(people, estate):
    web = estate["web"]
    ownership_assign(actor=people.admin, vm=web, owner=people.alice, team=people.ops, reason="r")
    today = timezone.localdate()
    weeks = sprawl_record(today=today)

    # The estate's guests were first seen 90 days ago: about 13 weeks, all backfilled.
    assert 13 <= weeks <= 15
    this_week = week_start(today)
    samples = {s.team_id: s for s in SprawlSample.objects.filter(week=this_week)}
    # This week is sampled at its Monday 00:00, before web was assigned today.
    assert sum(s.vm_count for s in samples.values()) == 3
    assert people.ops.pk not in samples
    past = SprawlSample.objects.get(week=this_week - timedelta(days=28))
    assert (past.team_id, past.vm_count) == (None, 3)
    # Rerunning only recomputes this week.
    assert sprawl_record(today=today) == 1
    next_week = sprawl_record(today=today + timedelta(days=7))
    assert next_week == 1
    assert (
        SprawlSample.objects.get(week=this_week + timedelta(days=7), team=people.ops).vm_count == 1
    )
