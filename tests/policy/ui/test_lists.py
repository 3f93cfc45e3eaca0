"""The policy lists show each person what they may see, filtered in SQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policy.lists import (
    exemption_list,
    quarantine_list,
    remediation_list,
    violation_list,
    vm_policy_section,
)

pytestmark = pytest.mark.django_db


def _ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


def test_owner_sees_only_their_vms_violations_and_officers_see_all(people, records):
    assert _ids(violation_list(user=people.alice, filters={"state": "all"})) == {
        records.open.pk,
        records.resolved.pk,
    }
    assert _ids(violation_list(user=people.security)) == {records.open.pk, records.hidden.pk}
    assert _ids(violation_list(user=people.auditor, filters={"state": "resolved"})) == {
        records.resolved.pk
    }
    # A manager sees their team's VMs; another team's manager does not.
    assert _ids(violation_list(user=people.manager)) == {records.open.pk}
    assert _ids(violation_list(user=people.other_manager)) == {records.hidden.pk}
    assert not violation_list(user=people.bob).exists()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"policy": "pin-web"}, {"open", "hidden"}),
        ({"policy": "nope"}, set()),
        ({"team": "ops"}, {"open"}),
        ({"team": "dev"}, {"hidden"}),
        ({"cluster": "pve-test"}, {"open", "hidden"}),
        ({"cluster": "other"}, set()),
        ({"remediation": "done"}, {"open"}),
        ({"q": "old-d"}, {"hidden"}),
        ({"q": "100"}, {"open"}),
        ({"state": "all", "team": "ops"}, {"open", "resolved"}),
    ],
)
def test_violation_filters(people, records, filters, expected):
    names = {getattr(records, name).pk: name for name in ("open", "resolved", "hidden")}
    found = violation_list(user=people.security, filters=filters)
    assert {names[pk] for pk in _ids(found)} == expected


def test_runs_quarantines_and_exemptions_follow_the_vm(people, records):
    assert _ids(remediation_list(user=people.alice)) == {records.run.pk}
    assert not remediation_list(user=people.carol).exists()
    assert _ids(remediation_list(user=people.auditor, filters={"state": "done"})) == {
        records.run.pk
    }
    assert not remediation_list(user=people.auditor, filters={"state": "failed"}).exists()
    assert _ids(quarantine_list(user=people.alice, open_only=True)) == {records.quarantine.pk}
    assert not quarantine_list(user=people.carol).exists()
    assert _ids(exemption_list(user=people.alice, active_only=True)) == {records.exemption.pk}
    assert not exemption_list(user=people.bob).exists()


def test_vm_section_in_a_fixed_number_of_queries(people, records, estate):
    vm_policy_section(user=people.alice, vm=estate["web"])  # warms the permission cache
    with CaptureQueriesContext(connection) as queries:
        section = vm_policy_section(user=people.alice, vm=estate["web"])
    assert [v.pk for v in section.open] == [records.open.pk]
    assert [v.pk for v in section.resolved] == [records.resolved.pk]
    assert section.open[0].runs == [records.run]
    assert section.quarantine == records.quarantine
    assert section.exemptions == [records.exemption]
    first = len(queries)
    assert first <= 6
    # More runs cost no more queries.
    records.run.pk = None
    records.run.state = "failed"
    records.run.save()
    with CaptureQueriesContext(connection) as queries:
        vm_policy_section(user=people.alice, vm=estate["web"])
    assert len(queries) == first
