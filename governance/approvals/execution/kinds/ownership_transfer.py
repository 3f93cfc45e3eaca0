"""ownership_transfer: give a VM a new owner (and optionally team/custodian) once approved.

Parameters: ``owner`` (user id, required), ``team`` (team id or null: keep),
``custodian`` (user id or null: keep). One atomic step through the ownership services,
so it happens exactly once with the request's execution.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from governance.accounts.models import Team
from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.ownership.models import OwnershipSource
from governance.ownership.services import KEEP, ownership_change


def _transfer(ctx: StepContext) -> StepResult:
    vm = ctx.request.vm
    if vm is None:
        return StepResult.failed("the request names no VM")
    users = get_user_model().objects
    owner = users.filter(pk=ctx.params.get("owner"), is_active=True).first()
    if owner is None:
        return StepResult.failed("the new owner no longer exists or is deactivated")
    team = KEEP
    if ctx.params.get("team"):
        team = Team.objects.filter(pk=ctx.params["team"]).first()
        if team is None:
            return StepResult.failed("the new team no longer exists")
    custodian = KEEP
    if ctx.params.get("custodian"):
        custodian = users.filter(pk=ctx.params["custodian"], is_active=True).first()
        if custodian is None:
            return StepResult.failed("the new custodian no longer exists or is deactivated")
    row = ownership_change(
        actor=None,
        vm=vm,
        source=OwnershipSource.TRANSFER,
        reason=f"approved request #{ctx.request.pk}: {ctx.request.justification}".strip(),
        owner=owner,
        custodian=custodian,
        team=team,
    )
    return StepResult.done(f"{vm} is now owned by {owner.get_username()}", ownership=row.pk)


kind(
    "ownership_transfer",
    StepSpec("transfer", "Record the new owner", _transfer, atomic=True),
)
