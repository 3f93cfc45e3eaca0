"""The gateway's write calls against pvesim over HTTPS: each change is visible when read
back, digests refuse stale writes, locks and unknown objects become Steward's errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inventory.proxmox import (
    ProxmoxDigestMismatch,
    ProxmoxGateway,
    ProxmoxInvalidParameters,
    ProxmoxLocked,
    ProxmoxNotFound,
    ProxmoxPermissionDenied,
    ProxmoxServerError,
)
from inventory.proxmox.operations import FirewallRule, MigrationCheck
from pvesim.model import Guest
from pvesim.testing import RunningSim


def _guest(sim: RunningSim, predicate: Callable[[Guest], bool]) -> Guest:
    """The first guest matching ``predicate`` that HA does not manage (HA moves it back)."""
    managed = sim.cluster.estate.ha_resources
    return next(
        g
        for g in sim.cluster.estate.guests.values()
        if predicate(g) and f"vm:{g.vmid}" not in managed and f"ct:{g.vmid}" not in managed
    )


def _plain_vm(guest: Guest) -> bool:
    """A qemu VM without local devices, so it can move to another node."""
    return (
        guest.kind == "qemu"
        and not guest.config.get("template")
        and not any(k.startswith(("usb", "hostpci", "serial")) for k in guest.config)
    )


def _finish(gw: ProxmoxGateway, sim: RunningSim, upid: str, seconds: float = 600) -> str:
    sim.advance(seconds)
    task = gw.task_status(upid)
    assert not task.running, task
    return task.status


def test_config_update_with_digest_sets_and_deletes(root_sim, gw):
    vm = _guest(root_sim, lambda g: g.kind == "qemu" and not g.config.get("template"))
    root_sim.api(
        "PUT", f"/nodes/{vm.node}/qemu/{vm.vmid}/config", data={"description": "by an admin"}
    )
    config = gw.guest_config(node=vm.node, kind="qemu", vmid=vm.vmid)
    assert config.values["description"] == "by an admin"

    gw.guest_config_update(
        node=vm.node,
        kind="qemu",
        vmid=vm.vmid,
        digest=config.digest,
        values={"ide2": "none,media=cdrom"},
        delete=["description"],
    )

    after = gw.guest_config(node=vm.node, kind="qemu", vmid=vm.vmid)
    assert "description" not in after.values
    assert after.values["ide2"] == "none,media=cdrom"
    assert after.digest != config.digest
    assert gw.calls["PUT /nodes/{node}/qemu/{vmid}/config"] == 1


def test_a_token_may_not_remove_a_real_usb_device(root_sim, gw):
    """PVE lets only root@pam itself (not even its tokens) change real device passthrough."""
    vm = _guest(root_sim, lambda g: g.kind == "qemu" and not g.config.get("template"))
    usb = root_sim.cluster.estate.nodes[vm.node].usb[0]
    device = f"{usb.vendid}:{usb.prodid}"
    attached = root_sim.control("POST", "guest/attach-usb", vmid=vm.vmid, device=device)
    config = gw.guest_config(node=vm.node, kind="qemu", vmid=vm.vmid)
    with pytest.raises(ProxmoxPermissionDenied, match="only root") as caught:
        gw.guest_config_update(
            node=vm.node, kind="qemu", vmid=vm.vmid, digest=config.digest, delete=[attached["key"]]
        )
    assert not caught.value.transient
    assert attached["key"] in gw.guest_config(node=vm.node, kind="qemu", vmid=vm.vmid).values


def test_config_update_refuses_a_stale_digest_and_changes_nothing(root_sim, gw):
    vm = _guest(root_sim, lambda g: g.kind == "qemu" and not g.config.get("template"))
    stale = gw.guest_config(node=vm.node, kind="qemu", vmid=vm.vmid).digest
    root_sim.api("PUT", f"/nodes/{vm.node}/qemu/{vm.vmid}/config", data={"description": "admin"})

    with pytest.raises(ProxmoxDigestMismatch) as caught:
        gw.guest_config_update(
            node=vm.node, kind="qemu", vmid=vm.vmid, digest=stale, values={"ide2": "none"}
        )
    assert caught.value.transient
    assert "ide2" not in vm.config or vm.config["ide2"] != "none"


def test_config_update_on_a_locked_guest_is_transient(root_sim, gw):
    vm = _guest(root_sim, lambda g: g.kind == "qemu" and not g.config.get("template"))
    root_sim.control("POST", "guest/lock", vmid=vm.vmid, lock="backup")
    digest = gw.guest_config(node=vm.node, kind="qemu", vmid=vm.vmid).digest
    with pytest.raises(ProxmoxLocked, match="locked") as caught:
        gw.guest_config_update(
            node=vm.node, kind="qemu", vmid=vm.vmid, digest=digest, values={"description": "x"}
        )
    assert caught.value.transient


def test_config_update_requires_a_digest_and_a_change(gw):
    with pytest.raises(ValueError, match="digest"):
        gw.guest_config_update(node="n", kind="qemu", vmid=1, digest="", values={"a": "b"})
    with pytest.raises(ValueError, match="nothing"):
        gw.guest_config_update(node="n", kind="qemu", vmid=1, digest="d")
    with pytest.raises(ValueError, match="both set and deleted"):
        gw.guest_config_update(
            node="n", kind="qemu", vmid=1, digest="d", values={"a": "1"}, delete=["a"]
        )
    assert gw.calls == {}


def _migrate_checked(gw: ProxmoxGateway, vm: Guest, *, online: bool) -> tuple[MigrationCheck, str]:
    """Ask Proxmox where ``vm`` may go, then start its migration to the first such node
    (with its local disks when it has any); the check and the task's UPID."""
    check = gw.guest_migrate_check(node=vm.node, kind="qemu", vmid=vm.vmid)
    upid = gw.guest_migrate(
        node=vm.node,
        kind="qemu",
        vmid=vm.vmid,
        target=check.allowed_nodes[0],
        online=online,
        with_local_disks=bool(check.local_disks),
    )
    return check, upid


def test_migrate_check_then_migrate_moves_the_guest(root_sim, gw):
    vm = _guest(root_sim, lambda g: _plain_vm(g) and not g.running)

    check, upid = _migrate_checked(gw, vm, online=False)

    assert not check.running
    assert vm.node not in check.allowed_nodes
    target = check.allowed_nodes[0]

    assert ":qmigrate:" in upid
    assert _finish(gw, root_sim, upid) == "OK"
    assert root_sim.cluster.estate.guests[vm.vmid].node == target


def test_migrate_running_vm_online(root_sim, gw):
    vm = _guest(root_sim, lambda g: _plain_vm(g) and g.running)
    check, upid = _migrate_checked(gw, vm, online=True)
    assert check.running
    target = check.allowed_nodes[0]
    assert _finish(gw, root_sim, upid) == "OK"
    moved = root_sim.cluster.estate.guests[vm.vmid]
    assert (moved.node, moved.running) == (target, True)


def test_migrate_to_own_node_is_refused(root_sim, gw):
    vm = _guest(root_sim, _plain_vm)
    with pytest.raises(ProxmoxInvalidParameters):
        gw.guest_migrate(node=vm.node, kind="qemu", vmid=vm.vmid, target=vm.node, online=True)


def test_stop_snapshot_delete_and_task_status(root_sim, gw):
    vm = _guest(root_sim, lambda g: g.kind == "qemu" and g.running and g.snapshots)
    name = next(iter(vm.snapshots))
    upid = gw.guest_stop(node=vm.node, kind="qemu", vmid=vm.vmid)
    assert _finish(gw, root_sim, upid) == "OK"
    assert not root_sim.cluster.estate.guests[vm.vmid].running

    upid = gw.snapshot_delete(node=vm.node, kind="qemu", vmid=vm.vmid, name=name)
    assert ":qmdelsnapshot:" in upid
    assert _finish(gw, root_sim, upid) == "OK"
    assert name not in {s.name for s in gw.snapshots(node=vm.node, kind="qemu", vmid=vm.vmid)}
    with pytest.raises(ValueError, match="not a snapshot"):
        gw.snapshot_delete(node=vm.node, kind="qemu", vmid=vm.vmid, name="current")


def test_task_stop_ends_a_running_task(root_sim, gw):
    vm = _guest(root_sim, lambda g: _plain_vm(g) and not g.running)
    _, upid = _migrate_checked(gw, vm, online=False)
    assert gw.task_status(upid).running
    gw.task_stop(upid)
    root_sim.advance(1)
    task = gw.task_status(upid)
    assert not task.running
    assert not task.ok


def test_backup_job_exclude_round_trip(root_sim, gw):
    job = next(j for j in gw.backup_jobs() if j.selection in ("all", "pool"))
    vmid = next(iter(root_sim.cluster.estate.guests))
    gw.backup_job_update(job_id=job.job_id, exclude=[*job.exclude, vmid])
    assert vmid in {j.job_id: j for j in gw.backup_jobs()}[job.job_id].exclude
    gw.backup_job_update(job_id=job.job_id, exclude=[])
    assert {j.job_id: j for j in gw.backup_jobs()}[job.job_id].exclude == ()
    with pytest.raises(ValueError, match="nothing to change"):
        gw.backup_job_update(job_id=job.job_id)


def test_ha_rule_create_update_pve9(make_sim, endpoint_for):
    sim = make_sim(pve="9", identity="root")
    gw = ProxmoxGateway(endpoint_for(sim))
    resource = gw.ha_resources()[0]
    nodes = sorted(sim.cluster.estate.nodes)
    gw.ha_rule_create(rule="steward-pin-x", resources=[resource.sid], nodes=nodes[:1])
    rule = {r.rule: r for r in gw.ha_rules()}["steward-pin-x"]
    assert (rule.type, rule.nodes, rule.strict) == ("node-affinity", (nodes[0],), True)

    gw.ha_rule_update(rule="steward-pin-x", resources=[resource.sid], nodes=nodes[:2])
    assert {r.rule: r for r in gw.ha_rules()}["steward-pin-x"].nodes == tuple(nodes[:2])
    with pytest.raises(ProxmoxDigestMismatch):
        gw.ha_rule_update(
            rule="steward-pin-x", resources=[resource.sid], nodes=nodes[:1], digest="0" * 40
        )
    with pytest.raises(ProxmoxServerError, match="unmanaged"):
        gw.ha_rule_create(rule="steward-pin-y", resources=["vm:99999"], nodes=nodes[:1])


def test_ha_group_create_update_pve8(make_sim, endpoint_for):
    sim = make_sim(pve="8", identity="root")
    gw = ProxmoxGateway(endpoint_for(sim))
    nodes = sorted(sim.cluster.estate.nodes)
    gw.ha_group_create(group="steward-pin-x", nodes=nodes[:1])
    group = {g.group: g for g in gw.ha_groups()}["steward-pin-x"]
    assert (group.nodes, group.restricted) == ((nodes[0],), True)
    gw.ha_group_update(group="steward-pin-x", nodes=nodes[:2])
    assert {g.group: g for g in gw.ha_groups()}["steward-pin-x"].nodes == tuple(nodes[:2])
    resource = gw.ha_resources()[0]
    gw.ha_resource_update(sid=resource.sid, group="steward-pin-x")
    assert {r.sid: r for r in gw.ha_resources()}[resource.sid].group == "steward-pin-x"


def test_security_group_and_guest_firewall(root_sim, gw):
    gw.security_group_create(group="quarantine", comment="steward")
    digest = gw.security_groups()[0].digest
    gw.security_group_rule_add(
        group="quarantine",
        rule=FirewallRule(type="out", action="ACCEPT", dest="10.0.0.53", proto="udp", dport="53"),
        digest=digest,
    )
    rules = gw.security_group_rules(group="quarantine")
    assert [(r.dest, r.dport, r.pos) for r in rules] == [("10.0.0.53", "53", 0)]
    with pytest.raises(ProxmoxDigestMismatch):
        gw.security_group_rule_add(
            group="quarantine", rule=FirewallRule(type="out", action="DROP"), digest=digest
        )
    gw.security_group_rule_delete(group="quarantine", pos=0, digest=rules[0].digest)
    assert gw.security_group_rules(group="quarantine") == []

    vm = _guest(root_sim, lambda g: g.kind == "qemu" and not g.config.get("template"))
    where = {"node": vm.node, "kind": "qemu", "vmid": vm.vmid}
    options = gw.guest_firewall_options(**where)
    gw.guest_firewall_options_update(
        **where, digest=options.digest, values={"enable": 1, "policy_out": "DROP"}
    )
    options = gw.guest_firewall_options(**where)
    assert (options.enabled, options.policy_out) == (True, "DROP")
    rule = FirewallRule(type="group", action="quarantine")
    gw.guest_firewall_rule_add(**where, rule=rule, digest=options.digest)
    rules = gw.guest_firewall_rules(**where)
    assert rules[0].same_rule(rule)
    assert rules[0].pos == 0
    gw.guest_firewall_rule_delete(**where, pos=0, digest=rules[0].digest)
    assert not any(r.same_rule(rule) for r in gw.guest_firewall_rules(**where))


def test_acl_role_and_user(root_sim, gw):
    gw.role_create(roleid="StewardUser", privs=["VM.Audit", "VM.PowerMgmt", "VM.Console"])
    role = {r.roleid: r for r in gw.roles()}["StewardUser"]
    assert role.privs == {"VM.Audit", "VM.PowerMgmt", "VM.Console"}
    assert not role.special
    gw.role_update(roleid="StewardUser", privs=["VM.Audit"])
    assert {r.roleid: r for r in gw.roles()}["StewardUser"].privs == {"VM.Audit"}

    gw.user_create(userid="alice@pve", comment="steward")
    assert "alice@pve" in {u.userid for u in gw.users()}
    vmid = next(iter(root_sim.cluster.estate.guests))
    gw.acl_put(path=f"/vms/{vmid}", role="StewardUser", users=["alice@pve"], propagate=False)
    entry = {(a.path, a.ugid): a for a in gw.acl()}[(f"/vms/{vmid}", "alice@pve")]
    assert (entry.roleid, entry.propagate) == ("StewardUser", False)

    gw.acl_delete(path=f"/vms/{vmid}", role="StewardUser", users=["alice@pve"])
    assert (f"/vms/{vmid}", "alice@pve") not in {(a.path, a.ugid) for a in gw.acl()}
    with pytest.raises(ProxmoxNotFound, match="does not exist"):
        gw.acl_put(path="/vms", role="NoSuchRole", users=["alice@pve"])


def test_unknown_guest_is_not_found(root_sim, gw):
    node = next(iter(root_sim.cluster.estate.nodes))
    with pytest.raises(ProxmoxNotFound):
        gw.guest_stop(node=node, kind="qemu", vmid=99999)


def test_storage_volume_delete_removes_a_backup(root_sim, gw):
    estate = root_sim.cluster.estate
    node = next(iter(estate.nodes))
    storage = next(
        s
        for s in estate.storages.values()
        if "backup" in s.content
        and any(v.content == "backup" for v in gw.storage_content(node=node, storage=s.storage))
    )
    backup = next(
        v for v in gw.storage_content(node=node, storage=storage.storage) if v.content == "backup"
    )
    upid = gw.storage_volume_delete(node=node, storage=storage.storage, volid=backup.volid)
    assert _finish(gw, root_sim, upid) == "OK"
    assert backup.volid not in {
        v.volid for v in gw.storage_content(node=node, storage=storage.storage)
    }
