"""The facts read on two connections (PostgreSQL, outside a transaction): the second
connection reads the same snapshot as the first, so the facts equal a one-connection
read, and a change committed in between is seen by neither."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from inventory.models import VirtualMachine
from policy.facts import facts_load
from policy.snapshot import at_once, beside_reader
from tests.policy.test_facts_reference import estates, ordered, reference  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="snapshot export is PostgreSQL's"),
]


def test_beside_reads_on_another_connection_in_the_same_snapshot(estates) -> None:  # noqa: F811
    renamed = VirtualMachine.objects.filter(gone_since__isnull=True).order_by("pk").first()
    names_before = dict(VirtualMachine.objects.values_list("pk", "name"))

    def rename_elsewhere() -> None:
        # Committed by a third connection after the snapshot was taken.
        VirtualMachine.objects.filter(pk=renamed.pk).update(name="renamed-meanwhile")

    def read_beside() -> tuple[int, dict[int, str]]:
        return threading.get_ident(), dict(VirtualMachine.objects.values_list("pk", "name"))

    with beside_reader() as beside:
        assert beside is not at_once
        # Touch the snapshot here first, as facts_load does before handing work beside.
        here = dict(VirtualMachine.objects.values_list("pk", "name"))
        changer = threading.Thread(target=rename_elsewhere)
        changer.start()
        changer.join()
        thread, there = beside(read_beside)()
    assert thread != threading.get_ident()
    assert here == there == names_before
    assert VirtualMachine.objects.get(pk=renamed.pk).name == "renamed-meanwhile"


def test_two_connection_read_equals_the_reference_and_the_one_connection_read(
    estates,  # noqa: F811
) -> None:
    parallel = facts_load()
    with transaction.atomic():
        single = facts_load()
    assert {vm.id: ordered(vm) for vm in parallel.vms} == reference()
    assert {vm.id: ordered(vm) for vm in single.vms} == reference()
    assert parallel.identity_clashes.keys() == single.identity_clashes.keys()
    assert parallel.clusters == single.clusters


def test_inside_a_transaction_the_work_runs_here_at_once() -> None:
    with transaction.atomic(), beside_reader() as beside:
        assert beside is at_once
        assert beside(threading.get_ident)() == threading.get_ident()
