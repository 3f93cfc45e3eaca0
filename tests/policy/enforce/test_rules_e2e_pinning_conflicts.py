"""Contradicting host pinning end to end against pvesim: two enabled pinning policies that
were fine when saved come to hold one guest after an admin tags it in Proxmox. The next
sync reports ONE contradiction and the reconciler writes nothing to Proxmox: no migration
back and forth, no HA rule rewritten, cycle after cycle."""

from __future__ import annotations

import pytest

from policy.models import Remediation, Violation
from tests.policy.enforce.e2e import cycle, open_violation, policy_on
from tests.policy.enforce.helpers import plain_qemu, synced_cluster

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_tag_change_that_makes_pinnings_contradict_is_reported_once_and_never_acted_on(
    make_sim, cluster_for, recorder
):
    synced = synced_cluster(make_sim, cluster_for)
    guest = synced.guest(lambda g: plain_qemu(g) and g.running)
    vm = synced.vm(guest.vmid)
    other = sorted(n for n in synced.sim.cluster.estate.nodes if n != guest.node)[0]
    here = policy_on("host_pinning", [vm], allowed_nodes=[guest.node])
    here.name = "pin-here"
    here.save(update_fields=["name"])
    there = policy_on("host_pinning", [vm], allowed_nodes=[other])
    there.name, there.scope = "pin-there", {"tags": ["pin-there"]}
    there.save(update_fields=["name", "scope"])
    assert cycle(synced) == []  # nobody holds the tag yet: nothing to find

    tags = guest.config.get("tags", "")
    response = synced.sim.api(
        "PUT",
        f"/nodes/{guest.node}/qemu/{guest.vmid}/config",
        data={"tags": ";".join(t for t in (tags, "pin-there") if t)},
    )
    assert response.status_code == 200, response.text
    writes = len(recorder.writes)

    assert cycle(synced) == []

    clash = open_violation(vm, "contradiction")
    assert clash.policy_id == here.pk
    assert clash.summary.startswith(
        "contradicting policies pin-here and pin-there: no node allowed by both"
    )
    assert clash.evidence["policies"] == {"pin-here": [guest.node], "pin-there": [other]}
    assert clash.remediation_state == "not_possible"
    assert list(Violation.objects.filter(vm=vm, resolved_at__isnull=True)) == [clash]
    assert not Remediation.objects.filter(vm=vm).exists()
    assert cycle(synced) == []  # and again: no write, still one finding
    assert len(recorder.writes) == writes
    assert synced.sim.cluster.estate.guests[guest.vmid].node == guest.node
    assert Violation.objects.filter(vm=vm, resolved_at__isnull=True).count() == 1
