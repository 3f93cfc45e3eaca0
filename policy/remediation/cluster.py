"""Executors acting on cluster configuration: HA placement, backup jobs, backups on
removable storage, ACL entries."""

from __future__ import annotations

from inventory.proxmox import ProxmoxNotFound
from policy.models import ActionKind
from policy.remediation.base import Context, Outcome, executor


def ha_pin_name(vmid: int) -> str:
    """The HA rule (PVE 9) or group (PVE 8) Steward owns for one guest."""
    return f"steward-pin-{vmid}"


@executor(ActionKind.HA_PIN)
def ha_pin(ctx: Context) -> Outcome:
    """Keep an HA-managed guest on ``nodes``: a strict node-affinity rule on PVE 9, a
    restricted group holding the resource on PVE 8 (where the CRM would otherwise
    recover or fail it back anywhere)."""
    sid = str(ctx.params["sid"])
    nodes = tuple(sorted(ctx.params["nodes"]))
    name = ha_pin_name(ctx.target.vmid or int(sid.partition(":")[2]))
    gw = ctx.gateway
    if ctx.target.pve_major >= 9:
        rule = next((r for r in gw.ha_rules() if r.rule == name), None)
        if rule is None:
            gw.ha_rule_create(rule=name, resources=[sid], nodes=nodes, comment="Steward policy")
            return Outcome.done(f"HA rule {name} keeps {sid} on {', '.join(nodes)}")
        if tuple(sorted(rule.nodes)) == nodes and rule.resources == (sid,) and rule.strict:
            return Outcome.done(f"HA rule {name} already in place")
        gw.ha_rule_update(rule=name, resources=[sid], nodes=nodes)
        return Outcome.done(f"HA rule {name} now keeps {sid} on {', '.join(nodes)}")
    group = next((g for g in gw.ha_groups() if g.group == name), None)
    if group is None:
        gw.ha_group_create(group=name, nodes=nodes, comment="Steward policy")
    elif tuple(sorted(group.nodes)) != nodes or not group.restricted:
        gw.ha_group_update(group=name, nodes=nodes)
    resource = next((r for r in gw.ha_resources() if r.sid == sid), None)
    if resource is None:
        return Outcome.not_possible(f"{sid} is no longer HA-managed")
    if resource.group != name:
        gw.ha_resource_update(sid=sid, group=name)
    return Outcome.done(f"restricted HA group {name} keeps {sid} on {', '.join(nodes)}")


@executor(ActionKind.BACKUP_EXCLUDE)
def backup_exclude(ctx: Context) -> Outcome:
    """Take the guest out of a backup job: ``exclude`` it from an all/pool job, or drop
    it from an explicit list (a list job of only this guest is not possible: disabling a
    job others may rely on is a person's decision)."""
    job_id, vmid = str(ctx.params["job_id"]), int(ctx.target.vmid or 0)
    job = next((j for j in ctx.gateway.backup_jobs() if j.job_id == job_id), None)
    if job is None:
        return Outcome.done(f"backup job {job_id} no longer exists")
    if job.selection in ("all", "pool"):
        if vmid in job.exclude:
            return Outcome.done(f"already excluded from {job_id}")
        ctx.gateway.backup_job_update(job_id=job_id, exclude=[*job.exclude, vmid])
        return Outcome.done(f"excluded from backup job {job_id}")
    if vmid not in job.vmids:
        return Outcome.done(f"not selected by {job_id}")
    rest = [v for v in job.vmids if v != vmid]
    if not rest:
        return Outcome.not_possible(
            f"backup job {job_id} backs up only this guest; disable or delete it by hand"
        )
    ctx.gateway.backup_job_update(job_id=job_id, vmids=rest)
    return Outcome.done(f"removed from backup job {job_id}")


def _volids(ctx: Context) -> set[str]:
    node = str(ctx.params.get("node") or ctx.target.node)
    storage = str(ctx.params["storage"])
    return {v.volid for v in ctx.gateway.storage_content(node=node, storage=storage)}


def _verify_backup_gone(ctx: Context) -> Outcome:
    volid = str(ctx.params["volid"])
    if volid in _volids(ctx):
        return Outcome.failed(f"the task ended but {volid} is still there")
    return Outcome.done(f"{volid} deleted")


@executor(ActionKind.BACKUP_DELETE, verify=_verify_backup_gone)
def backup_delete(ctx: Context) -> Outcome:
    volid, storage = str(ctx.params["volid"]), str(ctx.params["storage"])
    node = str(ctx.params.get("node") or ctx.target.node)
    if not node:
        return Outcome.not_possible("no node known that sees this storage")
    try:
        present = volid in _volids(ctx)
    except ProxmoxNotFound:
        return Outcome.done(f"storage {storage} is gone from {node}")
    if not present:
        return Outcome.done(f"{volid} is already gone")
    upid = ctx.gateway.storage_volume_delete(node=node, storage=storage, volid=volid)
    return Outcome.started(upid, f"deleting {volid}")


@executor(ActionKind.DELETION_REQUEST)
def deletion_request(ctx: Context) -> Outcome:
    """A copy Steward may not delete on its own: recorded for a person to decide.

    The person asks through a backup deletion request from the violation page ("Request
    deletion"), whose id this row then records; owners and custodians were told when the
    violation opened.
    """
    return Outcome.not_possible(
        f"{ctx.params['volid']} on {ctx.params['storage']} needs a person's decision to "
        f"delete ({ctx.params.get('reason', 'copy outside approved storage')}): use "
        "Request deletion on the violation's page"
    )


@executor(ActionKind.ACL_DELETE)
def acl_delete(ctx: Context) -> Outcome:
    """Remove one ACL entry no Steward record backs."""
    path, ugid, kind, roleid = (str(ctx.params[k]) for k in ("path", "ugid", "ugid_type", "roleid"))
    present = any(
        a.path == path and a.ugid == ugid and a.roleid == roleid for a in ctx.gateway.acl()
    )
    if not present:
        return Outcome.done(f"{roleid} for {ugid} on {path} is already gone")
    holder = {"user": "users", "group": "groups", "token": "tokens"}[kind]
    ctx.gateway.acl_delete(path=path, role=roleid, **{holder: [ugid]})
    return Outcome.done(f"removed {roleid} for {ugid} on {path}")
