"""Time-limited access: start, end, revoke and reconcile ``AccessGrant``s in Proxmox.

A grant gives its user's Proxmox identity a role on ``/vms/<vmid>`` from ``starts_at`` to
``ends_at``. The identity is ``policy.rights.pve_userid`` in the realm the rights policy
configures (``policy.services.rights.steward_realm``: the ``unbacked_acl`` policy's
``realm``), fixed on the grant when it is scheduled, so the entry Steward puts, backs and
removes is the one the policy and ``rights_sync`` expect. Starting ensures the Proxmox user and
puts the ACL entry; ending deletes the entry and stops the grantee's running console
proxies on the guest (a console opened under the grant must not outlive it). Both are
level-triggered (putting or deleting the same ACL entry twice changes nothing), so a
crash between the Proxmox call and the commit is repaired by running them again.

While a grant is active a ``policy.RightsAssignment`` (until its end) backs the entry, so
the ``unbacked_acl`` policy does not report or delete it.

``grants_reconcile`` (beat, every 15 s) starts due grants, ends expired ones and retries
failed ones, so a grant missed while Steward was down is repaired at the next run and an
expired grant is gone within one interval plus the calls. Runs never overlap: one that
finds the previous still going skips (``run_alone``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.accounts.roles import Role, has_role
from governance.approvals.models import GRANT_TRANSITIONS, AccessGrant, GrantState
from governance.approvals.run_lock import run_alone
from governance.audit.services import audit_record
from governance.notifications.services import notify
from inventory.proxmox import ProxmoxError, ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from policy.models import RightsAssignment
from policy.rights import pve_userid, vm_acl_path
from policy.services.rights import steward_realm

logger = logging.getLogger(__name__)

#: Task types of console sessions (PVE runs termproxy as a ``vncproxy`` worker too).
CONSOLE_TASK_TYPES = frozenset({"vncproxy", "termproxy", "spiceproxy", "vncshell"})


def _gateway(grant: AccessGrant) -> ProxmoxGateway:
    return ProxmoxGateway(cluster_endpoint(grant.vm.cluster))


def _move(grant: AccessGrant, state: str) -> None:
    if state not in GRANT_TRANSITIONS[grant.state]:
        raise ValidationError(f"An access grant cannot go from {grant.state} to {state}.")
    grant.state = state


def _locked(grant_id: int) -> AccessGrant:
    return (
        AccessGrant.objects.select_for_update()
        .select_related("vm__cluster", "user")
        .get(pk=grant_id)
    )


def grant_create(
    *, user: Any, vm: Any, role: str, starts_at: datetime, ends_at: datetime, request: Any
) -> AccessGrant:
    """A scheduled grant (inside the caller's transaction); idempotent per request."""
    existing = AccessGrant.objects.filter(request=request).first()
    if existing is not None:
        return existing
    grant = AccessGrant.objects.create(
        user=user,
        vm=vm,
        role=role,
        starts_at=starts_at,
        ends_at=ends_at,
        request=request,
        proxmox_userid=pve_userid(user.username, steward_realm()),
        acl_path=vm_acl_path(vm.vmid),
    )
    audit_record(
        actor=request.requester if request else None,
        action="approvals.grant_scheduled",
        target=grant,
        after={"role": role, "from": starts_at.isoformat(), "until": ends_at.isoformat()},
    )
    return grant


def grant_start(
    *, grant_id: int, now: datetime | None = None, gateway: ProxmoxGateway | None = None
) -> AccessGrant:
    """Put the grant's ACL entry if its window is open; the grant, active or failed."""
    now = now or timezone.now()
    with transaction.atomic():
        grant = _locked(grant_id)
        if grant.state not in (GrantState.SCHEDULED, GrantState.FAILED) or grant.activated_at:
            return grant
        if not grant.starts_at <= now < grant.ends_at:
            return grant
        gw = gateway or _gateway(grant)
        try:
            gw.user_ensure(userid=grant.proxmox_userid, comment="managed by Steward")
            gw.acl_put(
                path=grant.acl_path,
                role=grant.role,
                users=[grant.proxmox_userid],
                propagate=False,
            )
        except ProxmoxError as exc:
            return _failed(grant, f"the access could not be granted: {exc}")
        _back(grant)
        _move(grant, GrantState.ACTIVE)
        grant.activated_at, grant.error = now, ""
        grant.save(update_fields=["state", "activated_at", "error"])
        audit_record(
            actor=None,
            action="approvals.grant_started",
            target=grant,
            after={"acl": grant.acl_path, "role": grant.role, "user": grant.proxmox_userid},
        )
        notify(
            user=grant.user,
            kind="approvals.access",
            subject=f"Your {grant.role} access to {grant.vm} is active until "
            f"{timezone.localtime(grant.ends_at):%Y-%m-%d %H:%M}",
        )
    return grant


def _failed(grant: AccessGrant, error: str) -> AccessGrant:
    logger.warning("access grant %s: %s", grant.pk, error)
    if grant.state != GrantState.FAILED:
        _move(grant, GrantState.FAILED)
    grant.error = error
    grant.save(update_fields=["state", "error"])
    audit_record(actor=None, action="approvals.grant_failed", target=grant, after={"error": error})
    return grant


def _assignment(grant: AccessGrant) -> Any:
    return RightsAssignment.objects.filter(
        cluster_id=grant.vm.cluster_id,
        path=grant.acl_path,
        ugid=grant.proxmox_userid,
        roleid=grant.role,
    )


def _back(grant: AccessGrant) -> None:
    """Record the entry as Steward's until the grant ends (the latest end of overlapping
    grants wins; one row per entry)."""
    row = _assignment(grant).select_for_update().first()
    if row is None:
        RightsAssignment.objects.create(
            cluster_id=grant.vm.cluster_id,
            path=grant.acl_path,
            ugid=grant.proxmox_userid,
            roleid=grant.role,
            vm=grant.vm,
            reason=f"time-limited access #{grant.pk}",
            until=grant.ends_at,
            created_at=timezone.now(),
        )
    elif row.until is not None and row.until < grant.ends_at:
        row.until = grant.ends_at
        row.save(update_fields=["until"])


def _unback(grant: AccessGrant) -> None:
    # Only the row a grant made: an entry backed for good (until null) is not ours.
    _assignment(grant).filter(until__isnull=False).delete()


def _still_needed(grant: AccessGrant, now: datetime) -> bool:
    """Whether another active grant keeps the same ACL entry alive (same user, VM, role)."""
    return (
        AccessGrant.objects.filter(
            vm_id=grant.vm_id,
            proxmox_userid=grant.proxmox_userid,
            role=grant.role,
            state=GrantState.ACTIVE,
            ends_at__gt=now,
        )
        .exclude(pk=grant.pk)
        .exists()
    )


def consoles_stop(*, gateway: ProxmoxGateway, userid: str, vmid: int) -> list[str]:
    """Stop ``userid``'s running console proxies on guest ``vmid`` (any node: the guest
    may have moved); the UPIDs stopped."""
    stopped = []
    for node in gateway.resources().nodes:
        if node.status != "online":
            continue
        tasks = gateway.node_tasks(node=node.name, userfilter=userid, vmid=vmid, running_only=True)
        for task in tasks:
            # The filter matches substrings (alice@pve in malice@pve): compare exactly.
            if task.type in CONSOLE_TASK_TYPES and task.user.split("!")[0] == userid:
                gateway.task_stop(task.upid)
                stopped.append(task.upid)
    return stopped


def grant_end(
    *,
    grant_id: int,
    now: datetime | None = None,
    revoked_by: Any = None,
    gateway: ProxmoxGateway | None = None,
) -> AccessGrant:
    """Remove the grant's ACL entry and stop the grantee's consoles; ``revoked_by`` marks
    an early end by an admin. A Proxmox failure leaves the grant failed (retried)."""
    now = now or timezone.now()
    with transaction.atomic():
        grant = _locked(grant_id)
        if grant.state in (GrantState.ENDED, GrantState.REVOKED):
            return grant
        if revoked_by is None and grant.ends_at > now:
            return grant
        gw = gateway or _gateway(grant)
        stopped: list[str] = []
        try:
            if grant.activated_at is not None or grant.state == GrantState.FAILED:
                if not _still_needed(grant, now):
                    gw.acl_delete(
                        path=grant.acl_path, role=grant.role, users=[grant.proxmox_userid]
                    )
                    _unback(grant)
                stopped = consoles_stop(gateway=gw, userid=grant.proxmox_userid, vmid=grant.vm.vmid)
        except ProxmoxError as exc:
            return _failed(grant, f"the access could not be removed: {exc}")
        _move(grant, GrantState.REVOKED if revoked_by is not None else GrantState.ENDED)
        grant.ended_at, grant.revoked_by, grant.error = now, revoked_by, ""
        grant.save(update_fields=["state", "ended_at", "revoked_by", "error"])
        audit_record(
            actor=revoked_by,
            action="approvals.grant_revoked" if revoked_by else "approvals.grant_ended",
            target=grant,
            after={"acl": grant.acl_path, "consoles_stopped": stopped},
        )
        notify(
            user=grant.user,
            kind="approvals.access",
            subject=f"Your {grant.role} access to {grant.vm} "
            + ("was revoked" if revoked_by else "has ended"),
        )
    return grant


def grant_revoke(*, grant: AccessGrant, actor: Any, now: datetime | None = None) -> AccessGrant:
    """An admin ends a grant early (or cancels a scheduled one)."""
    if not has_role(actor, Role.ADMIN, Role.SECURITY_OFFICER):
        raise PermissionDenied("Only an admin or a security officer may revoke access.")
    return grant_end(grant_id=grant.pk, now=now, revoked_by=actor)


#: How long a killed worker's cache lock keeps later runs out (PostgreSQL's advisory lock
#: goes with its connection at once); well past what a run over many grants takes.
RECONCILE_LOCK_TIMEOUT = 300


def grants_reconcile(*, now: datetime | None = None) -> dict[str, int] | None:
    """Beat: start due grants, end expired ones, retry failed ones; counts by outcome, or
    None when another run is still in progress (this one skips: the next beat catches up).

    One cluster's failure fails only its grants (they stay ``failed`` and are retried)."""
    with run_alone("approvals.grants_reconcile", timeout=RECONCILE_LOCK_TIMEOUT) as mine:
        if not mine:
            return None
        return _reconcile(now or timezone.now())


def _reconcile(now: datetime) -> dict[str, int]:
    counts = {"started": 0, "ended": 0, "failed": 0}
    gateways: dict[int, ProxmoxGateway] = {}

    def gateway_of(grant: AccessGrant) -> ProxmoxGateway:
        cluster = grant.vm.cluster
        if cluster.pk not in gateways:
            gateways[cluster.pk] = ProxmoxGateway(cluster_endpoint(cluster))
        return gateways[cluster.pk]

    open_states = [GrantState.SCHEDULED, GrantState.ACTIVE, GrantState.FAILED]
    ending = AccessGrant.objects.filter(state__in=open_states, ends_at__lte=now)
    for grant in ending.select_related("vm__cluster").order_by("ends_at", "pk"):
        done = grant_end(grant_id=grant.pk, now=now, gateway=gateway_of(grant))
        counts["ended" if done.state == GrantState.ENDED else "failed"] += 1
    starting = AccessGrant.objects.filter(
        Q(state=GrantState.SCHEDULED) | Q(state=GrantState.FAILED, activated_at__isnull=True),
        starts_at__lte=now,
        ends_at__gt=now,
    )
    for grant in starting.select_related("vm__cluster").order_by("starts_at", "pk"):
        done = grant_start(grant_id=grant.pk, now=now, gateway=gateway_of(grant))
        counts["started" if done.state == GrantState.ACTIVE else "failed"] += 1
    return counts
