"""access: a Proxmox role on the request's VM for a user, from a start to an end time.

Parameters (``AccessForm``): ``grantee`` (user id), ``role``, ``starts_at``, ``ends_at``
(ISO). Steps: schedule the grant (atomic), start it now if its window is open. The end
(and a later start) belongs to ``grants_reconcile``, which runs every 15 s; the request
succeeds once the grant is scheduled or active.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.execution.kinds.common import user_by_pk
from governance.approvals.models import AccessGrant, GrantState
from governance.approvals.services.grants import grant_create, grant_start


def _schedule(ctx: StepContext) -> StepResult:
    params = ctx.params
    grant = grant_create(
        user=user_by_pk(params["grantee"]),
        vm=ctx.request.vm,
        role=params["role"],
        starts_at=datetime.fromisoformat(params["starts_at"]),
        ends_at=datetime.fromisoformat(params["ends_at"]),
        request=ctx.request,
    )
    return StepResult.done(
        f"{grant.role} for {grant.proxmox_userid} on {grant.acl_path} scheduled",
        grant_id=grant.pk,
    )


def _start(ctx: StepContext) -> StepResult:
    grant = AccessGrant.objects.get(pk=ctx.results["grant_id"])
    if grant.starts_at > timezone.now():
        return StepResult.skipped(f"starts at {timezone.localtime(grant.starts_at):%Y-%m-%d %H:%M}")
    grant = grant_start(grant_id=grant.pk, gateway=ctx.gateway)
    if grant.state == GrantState.FAILED:
        # The reconciler retries failed starts; the request itself did its part.
        return StepResult.done(f"not granted yet ({grant.error}); retried every 15 s")
    return StepResult.done(f"access is {grant.state}")


kind(
    "access",
    StepSpec("schedule", "Schedule the access", _schedule, atomic=True),
    StepSpec("start", "Grant the access in Proxmox", _start),
)
