"""``rights_sync``: the Proxmox rights Steward maintains on one cluster (preventive layer).

What Steward wants, per cluster:

- the role ``StewardUser`` (``policy.rights``) with exactly its privileges: a guest's
  day-to-day use and none of ``FORBIDDEN_PRIVILEGES`` (``VM.Migrate``, ``VM.Clone``,
  ``VM.Backup``, ``VM.Snapshot.Rollback``, ``VM.Config.CDROM``, ``VM.Config.HWType``:
  those go through requests Steward's own token carries out after approval);
- the role ``StewardStorage`` (``Datastore.AllocateSpace`` + ``Datastore.Audit``),
  granted on approved storage only, so people cannot put data anywhere else;
- ``StewardUser`` on ``/vms/<vmid>`` for the current owner and custodian of each live
  guest; ``StewardStorage`` on ``/storage/<name>`` of each approved storage for every
  such person, recorded as ``RightsAssignment`` rows (so the ``unbacked_acl`` rule sees
  them as backed); and the entries other ``RightsAssignment`` rows back until they end.

People map to Proxmox users as ``policy.rights.pve_userid`` says (``alice@<realm>``,
the realm being the ``unbacked_acl`` policy's ``realm`` parameter, ``pve`` without one);
missing users are created without a password (sign-in goes through that realm).

Only entries holding Steward's two roles are Steward's to add or remove; any other
entry no Steward record backs is the ``unbacked_acl`` policy's to report and delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.audit.services import audit_record
from inventory.models import Cluster, Storage, StorageClass
from inventory.proxmox import ProxmoxGateway
from inventory.proxmox.clusterconf import Acl
from inventory.services.clusters import cluster_endpoint
from policy.models import Policy, PolicyKind, RightsAssignment
from policy.rights import (
    DEFAULT_REALM,
    FORBIDDEN_PRIVILEGES,
    STEWARD_ROLE,
    STEWARD_ROLE_PRIVILEGES,
    pve_userid,
    vm_acl_path,
)

STORAGE_ROLE = "StewardStorage"
STORAGE_PRIVILEGES = frozenset({"Datastore.AllocateSpace", "Datastore.Audit"})
STORAGE_REASON = "approved storage for owners and custodians"

Entry = tuple[str, str, str]  # (path, userid, roleid)


def steward_roles(pve_major: int) -> dict[str, frozenset[str]]:
    """Steward's roles and their exact privileges on a cluster of this PVE major."""
    # Every privilege of the role exists on PVE 8 and 9 alike (VM.Monitor, PVE 8's only
    # one, is forbidden), so ``pve_major`` does not change it today.
    user = frozenset(STEWARD_ROLE_PRIVILEGES)
    assert not user & FORBIDDEN_PRIVILEGES, "the end-user role must stay least-privilege"
    return {STEWARD_ROLE: user, STORAGE_ROLE: STORAGE_PRIVILEGES}


def steward_realm() -> str:
    """The Proxmox realm Steward's people sign in through (``alice`` -> ``alice@<realm>``):
    the enabled ``unbacked_acl`` policy's ``realm`` parameter, ``pve`` without one."""
    policy = Policy.objects.filter(kind=PolicyKind.UNBACKED_ACL, enabled=True).first()
    return str((policy.parameters if policy else {}).get("realm") or DEFAULT_REALM)


@dataclass(frozen=True)
class RightsPlan:
    """What ``rights_sync`` changes on one cluster; empty when Proxmox matches."""

    roles_create: tuple[str, ...] = ()
    roles_update: tuple[str, ...] = ()
    users_create: tuple[str, ...] = ()
    acl_add: tuple[Entry, ...] = ()
    acl_remove: tuple[Entry, ...] = ()
    applied: bool = field(default=False, compare=False)

    @property
    def empty(self) -> bool:
        return not (
            self.roles_create
            or self.roles_update
            or self.users_create
            or self.acl_add
            or self.acl_remove
        )

    def counts(self) -> dict[str, int]:
        return {
            "roles_create": len(self.roles_create),
            "roles_update": len(self.roles_update),
            "users_create": len(self.users_create),
            "acl_add": len(self.acl_add),
            "acl_remove": len(self.acl_remove),
        }


def rights_plan(
    *,
    desired: Iterable[Entry],
    acl: Iterable[Acl],
    roles: dict[str, frozenset[str]],
    users: Iterable[str],
    wanted_roles: dict[str, frozenset[str]],
) -> RightsPlan:
    """Pure: the changes that make Proxmox hold exactly Steward's roles and entries."""
    wanted = set(desired)
    have = {
        (a.path, a.ugid, a.roleid)
        for a in acl
        if a.roleid in wanted_roles and a.ugid_type == "user"
    }
    return RightsPlan(
        roles_create=tuple(sorted(r for r in wanted_roles if r not in roles)),
        roles_update=tuple(
            sorted(r for r, privs in wanted_roles.items() if r in roles and roles[r] != privs)
        ),
        users_create=tuple(sorted({u for _, u, _ in wanted} - set(users))),
        acl_add=tuple(sorted(wanted - have)),
        acl_remove=tuple(sorted(have - wanted)),
    )


def _storage_assignments(*, cluster_id: int, people: set[str], now: datetime) -> None:
    """Make the storage ``RightsAssignment`` rows match approved storage x people."""
    approved = Storage.objects.filter(
        cluster_id=cluster_id, storage_class=StorageClass.APPROVED, gone_since__isnull=True
    ).values_list("name", flat=True)
    wanted = {(f"/storage/{name}", user) for name in approved for user in people}
    rows = RightsAssignment.objects.filter(cluster_id=cluster_id, roleid=STORAGE_ROLE)
    have = {(path, ugid): pk for pk, path, ugid in rows.values_list("pk", "path", "ugid")}
    stale = [pk for key, pk in have.items() if key not in wanted]
    RightsAssignment.objects.filter(pk__in=stale).delete()
    RightsAssignment.objects.bulk_create(
        [
            RightsAssignment(
                cluster_id=cluster_id,
                path=path,
                ugid=ugid,
                roleid=STORAGE_ROLE,
                reason=STORAGE_REASON,
                created_at=now,
            )
            for path, ugid in sorted(wanted - set(have))
        ]
    )


def rights_desired(*, cluster_id: int, now: datetime, dry_run: bool = False) -> set[Entry]:
    """The entries Steward backs on ``cluster_id`` now (see the module docstring).

    Unless ``dry_run``, first brings the storage ``RightsAssignment`` rows up to date.
    """
    from governance.ownership.models import Ownership

    realm = steward_realm()
    rows = Ownership.objects.filter(
        until__isnull=True, vm__cluster_id=cluster_id, vm__gone_since__isnull=True
    ).values_list("vm__vmid", "owner__username", "custodian__username")
    entries: set[Entry] = set()
    people: set[str] = set()
    for vmid, owner, custodian in rows:
        for username in (owner, custodian):
            if username:
                people.add(pve_userid(username, realm))
                entries.add((vm_acl_path(vmid), pve_userid(username, realm), STEWARD_ROLE))
    if not dry_run:
        with transaction.atomic():
            _storage_assignments(cluster_id=cluster_id, people=people, now=now)
    backed = RightsAssignment.objects.filter(cluster_id=cluster_id).filter(
        Q(until__isnull=True) | Q(until__gt=now)
    )
    entries |= set(backed.values_list("path", "ugid", "roleid"))
    return entries


def rights_sync(
    *,
    cluster_id: int,
    dry_run: bool = False,
    now: datetime | None = None,
    gateway: ProxmoxGateway | None = None,
) -> RightsPlan:
    """Bring the cluster's Steward roles, users and ACL entries to what Steward backs.

    Reads roles, users and ACLs (three calls); writes only what differs, so a cluster
    already in shape gets no write call. ``dry_run`` returns the plan and writes nothing.
    """
    now = now or timezone.now()
    cluster = Cluster.objects.get(pk=cluster_id)
    gw = gateway or ProxmoxGateway(cluster_endpoint(cluster))
    version = cluster.pve_version or gw.version().version
    wanted_roles = steward_roles(int(version.split(".", 1)[0]))
    plan = rights_plan(
        desired=rights_desired(cluster_id=cluster_id, now=now, dry_run=dry_run),
        acl=gw.acl(),
        roles={r.roleid: r.privs for r in gw.roles()},
        users=[u.userid for u in gw.users()],
        wanted_roles=wanted_roles,
    )
    if dry_run or plan.empty:
        return plan
    for roleid in plan.roles_create:
        gw.role_create(roleid=roleid, privs=sorted(wanted_roles[roleid]))
    for roleid in plan.roles_update:
        gw.role_update(roleid=roleid, privs=sorted(wanted_roles[roleid]))
    for userid in plan.users_create:
        gw.user_create(userid=userid, comment="managed by Steward")
    for path, userid, roleid in plan.acl_add:
        gw.acl_put(path=path, role=roleid, users=[userid])
    for path, userid, roleid in plan.acl_remove:
        gw.acl_delete(path=path, role=roleid, users=[userid])
    with transaction.atomic():
        audit_record(
            actor=None,
            action="policy.rights.sync",
            target=cluster,
            after={
                **plan.counts(),
                "acl_add": [list(e) for e in plan.acl_add[:50]],
                "acl_remove": [list(e) for e in plan.acl_remove[:50]],
            },
        )
    return replace(plan, applied=True)
