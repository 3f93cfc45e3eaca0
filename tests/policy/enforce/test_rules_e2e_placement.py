"""Host pinning end to end against pvesim: an admin migrates a guest to a forbidden node
-> the next sync finds it -> enforce mode migrates it back (online, it runs) and pins HA
guests through HA (a node-affinity rule on PVE 9, a restricted group on PVE 8); audit
mode only reports and writes nothing; a clean cycle writes nothing."""

from __future__ import annotations

import pytest

from policy.models import Remediation, Violation
from policy.remediation import remediation_step
from tests.policy.enforce.e2e import cycle, drain, open_violation, policy_on
from tests.policy.enforce.helpers import plain_qemu, synced_cluster

pytestmark = pytest.mark.django_db(transaction=True)


def _movable(guest) -> bool:
    return (
        plain_qemu(guest)
        and guest.running
        and not any(k.startswith(("usb", "hostpci", "serial")) for k in guest.config)
    )


def _migrate_out_of_band(synced, vmid: int, target: str) -> None:
    synced.sim.control("POST", "guest/migrate", vmid=vmid, target=target, online=1)
    synced.sim.advance(600)
    assert synced.sim.cluster.estate.guests[vmid].node == target


def test_guest_moved_to_a_forbidden_node_is_migrated_back_online(make_sim, cluster_for, recorder):
    synced = synced_cluster(make_sim, cluster_for)
    guest = synced.guest(_movable)
    home = guest.node
    away = next(n for n in sorted(synced.sim.cluster.estate.nodes) if n != home)
    vm = synced.vm(guest.vmid)
    policy_on("host_pinning", [vm], allowed_nodes=[home])
    synced.sync()
    assert not Violation.objects.exists()

    _migrate_out_of_band(synced, guest.vmid, away)
    synced.sync()

    violation = open_violation(vm, "node")
    assert (violation.evidence["node"], violation.evidence["online"]) == (away, True)
    remediation = Remediation.objects.get(violation=violation)
    assert (remediation.action, remediation.params["target"]) == ("migrate", home)
    assert (remediation.pk, 0) in recorder.queued  # queued on Celery once planned
    # A backup holds the guest's lock: the migration waits, nothing is changed meanwhile.
    synced.sim.control("POST", "guest/lock", vmid=guest.vmid, lock="backup")
    step = remediation_step(remediation_id=remediation.pk, gateway=synced.gateway)
    assert (step.state, step.again_in) == ("pending", 30.0)
    assert synced.sim.cluster.estate.guests[guest.vmid].node == away
    synced.sim.control("POST", "guest/unlock", vmid=guest.vmid)
    [done] = drain(synced)
    assert done.state == "done", done.log
    moved = synced.sim.cluster.estate.guests[guest.vmid]
    assert (moved.node, moved.running) == (home, True)

    synced.sync()
    violation.refresh_from_db()
    assert violation.resolved_at is not None
    before = len(recorder.writes)
    assert cycle(synced) == []
    assert len(recorder.writes) == before


def test_audit_mode_reports_the_move_and_writes_nothing(make_sim, cluster_for, recorder):
    synced = synced_cluster(make_sim, cluster_for)
    guest = synced.guest(_movable)
    home = guest.node
    away = next(n for n in sorted(synced.sim.cluster.estate.nodes) if n != home)
    vm = synced.vm(guest.vmid)
    policy_on("host_pinning", [vm], mode="audit", allowed_nodes=[home])
    _migrate_out_of_band(synced, guest.vmid, away)

    assert cycle(synced) == []

    assert open_violation(vm, "node").remediation_state == "none"
    assert not Remediation.objects.exists()
    assert recorder.writes == []
    assert recorder.queued == []
    assert synced.sim.cluster.estate.guests[guest.vmid].node == away


def _ha_guest(synced):
    managed = synced.sim.cluster.estate.ha_resources
    return next(
        g
        for g in synced.sim.cluster.estate.guests.values()
        if f"vm:{g.vmid}" in managed and g.kind == "qemu" and not g.config.get("template")
    )


def test_ha_guest_gets_a_strict_node_affinity_rule_on_pve9(make_sim, cluster_for, recorder):
    synced = synced_cluster(make_sim, cluster_for)
    guest = _ha_guest(synced)
    vm = synced.vm(guest.vmid)
    policy_on("host_pinning", [vm], allowed_nodes=[guest.node])

    [done] = cycle(synced)

    assert (done.action, done.state) == ("ha_pin", "done")
    rule = next(r for r in synced.gateway.ha_rules() if r.rule == f"steward-pin-{guest.vmid}")
    assert (rule.type, rule.strict, rule.nodes, rule.resources) == (
        "node-affinity",
        True,
        (guest.node,),
        (f"vm:{guest.vmid}",),
    )
    synced.sync()
    assert Violation.objects.get(vm=vm, rule_key="ha").resolved_at is not None


def test_ha_guest_gets_a_restricted_group_on_pve8(make_sim, cluster_for, recorder):
    synced = synced_cluster(make_sim, cluster_for, pve="8")
    guest = _ha_guest(synced)
    vm = synced.vm(guest.vmid)
    policy_on("host_pinning", [vm], allowed_nodes=[guest.node])

    [done] = cycle(synced)

    assert (done.action, done.state) == ("ha_pin", "done"), done.log
    name = f"steward-pin-{guest.vmid}"
    group = next(g for g in synced.gateway.ha_groups() if g.group == name)
    assert (group.restricted, group.nodes) == (True, (guest.node,))
    resource = next(r for r in synced.gateway.ha_resources() if r.sid == f"vm:{guest.vmid}")
    assert resource.group == name
    synced.sync()
    assert Violation.objects.get(vm=vm, rule_key="ha").resolved_at is not None
