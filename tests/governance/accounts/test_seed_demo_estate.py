"""The demo estate seed: synced demo VMs get owners, demo storages a class, report-only
policies their first violations; only once."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from governance.accounts.models import Team, User
from governance.audit.models import AuditEvent
from governance.ownership.models import Ownership
from governance.ownership.services import ownership_assign
from inventory.models import Storage, StorageClass, VirtualMachine
from policy.models import Policy, PolicyMode, Violation
from tests.inventory.estate import make_cluster, vm_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug_on(settings):
    # pytest-django runs with DEBUG off; the command is meant for DEBUG (demo) setups.
    settings.DEBUG = True


@pytest.fixture
def synced_demo(capsys):
    """The demo users and teams, and a synced cluster with demo-like guest names."""
    call_command("seed_demo")
    now = timezone.now()
    cluster = make_cluster("pve-demo-estate", last_sync_at=now)
    for name, kind in (("local-lvm", "lvmthin"), ("usb-backup", "dir"), ("odd", "dir")):
        Storage.objects.create(
            cluster=cluster, name=name, plugintype=kind, first_seen=now, last_seen=now
        )
    names = ("fin-ledger", "research-ci-06", "eng-wiki-08", "hr-payroll")
    VirtualMachine.objects.bulk_create(
        vm_row(cluster, None, 100 + index, now=now, name=name) for index, name in enumerate(names)
    )
    capsys.readouterr()
    return cluster


def _holders(name: str) -> tuple[str | None, str | None, str | None]:
    row = Ownership.objects.filter(vm__name=name, until__isnull=True).first()
    if row is None:
        return (None, None, None)
    return (
        row.owner and row.owner.username,
        row.custodian and row.custodian.username,
        row.team and row.team.name,
    )


def test_demo_users_get_vms_and_storage_is_approved(synced_demo, capsys):
    call_command("seed_demo_estate")

    assert _holders("fin-ledger") == ("alice", None, "Finance")
    assert _holders("research-ci-06") == ("carol", "bob", "Research")
    assert _holders("eng-wiki-08") == ("bob", "alice", "Platform")
    assert _holders("hr-payroll") == (None, None, None)  # left for a claim
    classes = dict(Storage.objects.values_list("name", "storage_class"))
    assert classes == {
        "local-lvm": StorageClass.APPROVED,
        "usb-backup": StorageClass.REMOVABLE,
        "odd": StorageClass.UNCLASSIFIED,
    }
    assert "2 storages classified, 3 VMs given owners, 2 policies created" in (
        capsys.readouterr().out
    )
    assert AuditEvent.objects.filter(action="inventory.storage.classify").count() == 2
    assert set(Policy.objects.values_list("mode", flat=True)) == {PolicyMode.AUDIT}
    # The one guest left unowned is reported at once, before any scheduled cycle.
    assert list(
        Violation.objects.filter(policy__kind="ownership_required").values_list(
            "vm__name", flat=True
        )
    ) == ["hr-payroll"]

    # What the demo is for: an end user's "My VMs" lists what they own.
    client = Client()
    client.force_login(User.objects.get(username="alice"))
    page = client.get(reverse("ownership:vms"), {"mine": "yes"})
    assert page.status_code == 200
    assert "fin-ledger" in page.content.decode()


def test_a_second_run_keeps_what_was_changed_by_hand(synced_demo, capsys):
    call_command("seed_demo_estate")
    admin = User.objects.get(username="admin")
    vm = VirtualMachine.objects.get(name="fin-ledger")
    ownership_assign(
        actor=admin,
        vm=vm,
        owner=User.objects.get(username="carol"),
        team=Team.objects.get(name="Research"),
        reason="moved",
    )
    storage = Storage.objects.get(name="local-lvm")
    Storage.objects.filter(pk=storage.pk).update(storage_class=StorageClass.QUARANTINE)
    events = AuditEvent.objects.count()

    call_command("seed_demo_estate")

    assert _holders("fin-ledger") == ("carol", None, "Research")
    assert Storage.objects.get(pk=storage.pk).storage_class == StorageClass.QUARANTINE
    assert AuditEvent.objects.count() == events
    assert "0 storages classified, 0 VMs given owners, 0 policies created" in (
        capsys.readouterr().out
    )


def test_nothing_is_assigned_before_the_first_sync_ends(synced_demo, capsys):
    synced_demo.last_sync_at = None
    synced_demo.save(update_fields=["last_sync_at"])

    call_command("seed_demo_estate", "--wait", "0")

    assert not Ownership.objects.exists()
    assert not Policy.objects.exists()
    assert "has not finished" in capsys.readouterr().out


def test_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo_estate")
