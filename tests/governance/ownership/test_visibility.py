"""Ownership decides who sees which VM: owner, custodian, team manager; roles see all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.core.permissions import can, restrict
from governance.ownership.models import Claim, Ownership, OwnershipSource, Transfer
from inventory.models import Copy, Lineage, Residency, VirtualMachine

pytestmark = pytest.mark.django_db


def _own(vm, *, owner=None, custodian=None, team=None, closed=False):
    now = timezone.now()
    return Ownership.objects.create(
        vm=vm,
        owner=owner,
        custodian=custodian,
        team=team,
        since=now - timedelta(days=1) if closed else now,
        until=now if closed else None,
        source=OwnershipSource.ADMIN,
    )


def _visible(user) -> set[str]:
    return set(restrict(VirtualMachine.objects.all(), user).values_list("name", flat=True))


def test_owner_custodian_and_team_manager_see_the_vm(people, estate):
    _own(estate["web"], owner=people.alice, custodian=people.carol, team=people.ops)

    assert _visible(people.alice) == {"web-1"}
    assert _visible(people.carol) == {"web-1"}
    assert _visible(people.manager) == {"web-1"}
    assert _visible(people.bob) == set()  # same team, neither owner nor manager
    assert _visible(people.other_manager) == set()


def test_admin_security_and_auditor_see_every_vm(people, estate):
    _own(estate["web"], owner=people.alice, team=people.ops)
    for user in (people.admin, people.security, people.auditor):
        assert _visible(user) == {"web-1", "old-db", "tpl-debian"}


def test_only_the_current_row_counts(people, estate):
    _own(estate["web"], owner=people.alice, team=people.ops, closed=True)
    _own(estate["web"], owner=people.bob, team=people.dev)

    assert _visible(people.alice) == set()
    assert _visible(people.manager) == set()
    assert _visible(people.bob) == {"web-1"}
    assert _visible(people.other_manager) == {"web-1"}
    assert can(people.bob, "view", estate["web"])
    assert not can(people.alice, "view", estate["web"])


def test_vm_ledgers_follow_the_vm(people, estate):
    _own(estate["web"], owner=people.alice)

    assert restrict(Residency.objects.all(), people.alice).count() == 2
    assert restrict(Copy.objects.all(), people.alice).count() == 3
    assert restrict(Ownership.objects.all(), people.alice).count() == 1
    assert restrict(Residency.objects.all(), people.bob).count() == 0
    # The template -> web edge would reveal the template, which alice cannot see.
    assert restrict(Lineage.objects.all(), people.alice).count() == 0
    _own(estate["template"], owner=people.alice)
    assert restrict(Lineage.objects.all(), people.alice).count() == 1


def test_claims_and_transfers_are_seen_by_parties_and_deciding_managers(people, estate):
    claim = Claim.objects.create(vm=estate["old"], claimant=people.carol, team=people.dev)
    transfer = Transfer.objects.create(
        vm=estate["web"], from_user=people.alice, to_user=people.carol, to_team=people.dev
    )
    for user in (people.carol, people.other_manager):
        assert list(restrict(Claim.objects.all(), user)) == [claim]
        assert list(restrict(Transfer.objects.all(), user)) == [transfer]
    assert list(restrict(Transfer.objects.all(), people.alice)) == [transfer]
    assert restrict(Claim.objects.all(), people.alice).count() == 0
    assert restrict(Claim.objects.all(), people.manager).count() == 0


def test_filtering_is_one_query_with_subqueries_not_id_lists(people, estate):
    for vm in VirtualMachine.objects.all():
        _own(vm, owner=people.alice, team=people.ops)
    restrict(VirtualMachine.objects.all(), people.manager).count()  # warm caches
    with CaptureQueriesContext(connection) as queries:
        assert restrict(VirtualMachine.objects.all(), people.manager).count() == 3
    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"]
    assert "ownership_ownership" in sql
    assert "accounts_teammembership" in sql
    # One semi-join over a union of keys (grants, owner, custodian, managed teams):
    # an OR of IN-subqueries would make PostgreSQL test every VM of the fleet.
    assert sql.count("UNION ALL") == 4
    assert " OR " not in sql
