"""exception: exempt the request's VM from one policy until a date, once approved.

Parameters: ``policy`` (policy id), ``until`` (a date: the exemption lasts through that
day), optionally ``rule_key``. One atomic step through ``policy.services.exemptions``
``exemption_grant``, granted by the request's last approver; the service refuses when
that approver owns the VM (never granted by the VM's own owner), and a re-run step returns
the exemption already granted for the request.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind
from governance.approvals.models import Approval, Decision
from policy.models import Policy
from policy.services.exemptions import exemption_grant


def _until(value: object) -> datetime:
    day = date.fromisoformat(str(value)[:10])
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def _grant(ctx: StepContext) -> StepResult:
    request = ctx.request
    if request.vm is None:
        return StepResult.failed("the request names no VM")
    policy = Policy.objects.filter(pk=ctx.params.get("policy")).first()
    if policy is None:
        return StepResult.failed("the policy no longer exists")
    last = (
        Approval.objects.filter(request=request, decision=Decision.APPROVE, voided_at__isnull=True)
        .select_related("approver")
        .order_by("-at", "-id")
        .first()
    )
    if last is None:
        return StepResult.failed("an exemption needs a person's approval; none was recorded")
    try:
        exemption = exemption_grant(
            granted_by=last.approver,
            policy=policy,
            vm=request.vm,
            until=_until(ctx.params.get("until")),
            reason=f"request #{request.pk}: {request.justification}".strip(),
            request_id=request.pk,
            rule_key=str(ctx.params.get("rule_key") or ""),
        )
    except (PermissionDenied, ValidationError, ValueError) as refused:
        return StepResult.failed(f"exemption refused: {' '.join(_messages(refused))}")
    return StepResult.done(
        f"{request.vm} exempt from {policy.name} until {exemption.until:%Y-%m-%d %H:%M}",
        exemption=exemption.pk,
    )


def _messages(error: Exception) -> list[str]:
    return list(error.messages) if isinstance(error, ValidationError) else [str(error)]


kind("exception", StepSpec("grant", "Grant the policy exemption", _grant, atomic=True))
