"""facts_load reads what the rules need, live guests only, identity clashes estate-wide."""

from __future__ import annotations

import pytest
from django.utils import timezone

from inventory.models import VirtualMachine
from policy.facts import facts_load
from tests.inventory.estate import make_estate

pytestmark = pytest.mark.django_db


def test_facts_carry_config_facts_copies_and_identity_clashes() -> None:
    estate = make_estate()
    facts = facts_load()
    by_vmid = {vm.vmid: vm for vm in facts.vms}
    web = by_vmid[100]
    assert web.node == "node1"
    # Timestamps are read as epoch numbers; they must come back to the microsecond.
    assert (web.first_seen, web.last_running) == (
        estate["web"].first_seen,
        estate["web"].last_running,
    )
    assert web.tags == frozenset({"prod", "web"})
    assert ("usb0", "usb", "host=1234:5678") in web.devices
    assert ("ide2", "cdrom", "local:iso/debian.iso") not in web.disks  # CD-ROMs are devices
    assert [d.key for d in web.disks] == ["scsi0"]
    assert {c.name for c in web.copies} >= {"before-upgrade"}
    clashes = facts.identity_clashes[web.id]
    assert {(c.what, c.value) for c in clashes} == {
        ("uuid", web.smbios_uuid),
        ("mac", "BC:24:11:00:00:01"),
    }
    assert facts.clusters[estate["cluster"].pk].nodes == {"node1": "online", "node2": "online"}


def test_gone_guests_are_not_read() -> None:
    estate = make_estate()
    VirtualMachine.objects.filter(vmid=101).update(gone_since=timezone.now())
    facts = facts_load(cluster_id=estate["cluster"].pk)
    assert {vm.vmid for vm in facts.vms} == {100, 9000}
    # The remaining UUID holder no longer clashes with anyone live.
    assert all(c.what != "uuid" for c in facts.identity_clashes.get(estate["web"].pk, ()))
