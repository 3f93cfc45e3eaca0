"""Team quotas: setting them, and refusing requests that would take a team over one.

Invariants:
- A request must fit its team's quota for all clusters and its quota on the cluster the
  request lands on (``Request.cluster``; a guest's own cluster for a transfer), each
  counting the use it covers.
- ``quota_check`` runs in the per-kind validators (``prechecks``) at submission and when
  a request is changed; a request changed is not counted twice (``revalidation_of``
  names it while its validator runs). A refusal names the limit, the team's use with
  the request, the request's own size and the limit.
- Inside a transaction the team's quota row is locked (``select_for_update``) before its
  use is read, and ``request_submit`` checks again with ``quota_hold`` in the transaction
  that stores the request: two submissions for one team run one after the other, so two
  requests cannot both squeeze under a limit.
- ``quota_gate`` runs before the first step of an execution, so a quota lowered after
  approval stops it with the refusal as the failed step's message; nothing was done in
  Proxmox yet.
- Claims and transfers of the ownership app are checked like an ownership-transfer
  request when offered or claimed and again when approved (``quota_intake``).
- ``quota_set`` is for admins only and audits every change with before and after (and
  the cluster, null for all clusters).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from governance.accounts.models import Team
from governance.approvals.models import LIMITS, Request, RequestKind, TeamQuota
from governance.approvals.quota_usage import (
    QUOTA_KINDS,
    Size,
    charged_team,
    request_size,
    team_usage,
)
from governance.audit.services import audit_record
from inventory.models import Cluster, VirtualMachine

if TYPE_CHECKING:
    from governance.approvals.execution.base import StepContext, StepResult

#: The request whose changed parameters are being re-validated (not counted as reserved).
_revalidating: ContextVar[int | None] = ContextVar("quota_revalidating", default=None)


@contextmanager
def revalidation_of(request_id: int) -> Iterator[None]:
    """Within this block, ``quota_check`` leaves request ``request_id``'s reservation out."""
    token = _revalidating.set(request_id)
    try:
        yield
    finally:
        _revalidating.reset(token)


def quota_refusals(
    *,
    kind: str,
    request_team: int | None,
    parameters: Mapping[str, Any],
    vm: VirtualMachine | None,
    cluster_id: int | None,
    executing_only: bool = False,
    exclude_request: int | None = None,
) -> list[str]:
    """One message per limit the request would take its team over (empty: it fits), on
    all clusters and on ``cluster_id``, where the request lands.

    A limit the request adds nothing to does not refuse it, even when the team is over it
    already (after an admin lowered the quota)."""
    team_id = charged_team(kind, request_team, parameters)
    if team_id is None:
        return []
    quotas = TeamQuota.objects.filter(
        Q(cluster=None) | Q(cluster_id=cluster_id), team_id=team_id
    ).order_by(F("cluster_id").asc(nulls_first=True))
    if transaction.get_connection().in_atomic_block:
        quotas = quotas.select_for_update()
    quotas = list(quotas)
    if not quotas:
        return []
    size = request_size(kind, parameters, vm)
    team = Team.objects.get(pk=team_id)
    refusals = []
    for quota in quotas:
        usage = team_usage(
            team_id,
            cluster_id=quota.cluster_id,
            executing_only=executing_only,
            exclude_request=exclude_request,
        )
        refusals += _over(quota, team, usage.total + size, size)
    return refusals


def _over(quota: TeamQuota, team: Team, after: Size, size: Size) -> list[str]:
    where = "" if quota.cluster_id is None else f" on cluster {quota.cluster.name}"
    return [
        f"Team {team.name} would use {after.amount(limit)} of {value} {words}{where} "
        f"(this request: {size.amount(limit)}). "
        "Ask an admin to raise the quota or free capacity."
        for limit, words in LIMITS.items()
        if (value := getattr(quota, limit)) is not None
        and size.amount(limit) != 0
        and after.exceeds(limit, value)
    ]


def _team_of(vm: VirtualMachine | None) -> int | None:
    if vm is None:
        return None
    from governance.ownership.services import ownership_current

    current = ownership_current(vm_id=vm.pk)
    return current.team_id if current is not None else None


def quota_check(
    *,
    kind: str,
    vm: VirtualMachine | None,
    cluster: Cluster,
    parameters: Mapping[str, Any],
    field: str,
) -> None:
    """``ValidationError`` on ``field`` when the request would take its team over quota."""
    if kind not in QUOTA_KINDS:
        return
    refusals = quota_refusals(
        kind=kind,
        request_team=_team_of(vm),
        parameters=parameters,
        vm=vm,
        cluster_id=cluster.pk,
        exclude_request=_revalidating.get(),
    )
    if refusals:
        raise ValidationError({field: refusals})


def quota_intake(*, vm: VirtualMachine, team: Team) -> None:
    """A claim or transfer of the ownership app bringing ``vm`` into ``team`` (registered
    in ``ownership.services_workflows.TEAM_INTAKE_CHECKS``): checked like a transfer."""
    refusals = quota_refusals(
        kind=RequestKind.OWNERSHIP_TRANSFER,
        request_team=_team_of(vm),
        parameters={"team": team.pk},
        vm=vm,
        cluster_id=vm.cluster_id,
    )
    if refusals:
        raise ValidationError(refusals)


def quota_hold(request: Request) -> None:
    """In the transaction storing a new ``request``: lock its team's quota and check again
    (what the validator saw may have changed since), ``ValidationError`` when over."""
    if request.kind not in QUOTA_KINDS:
        return
    refusals = quota_refusals(
        kind=request.kind,
        request_team=request.team_id,
        parameters=request.parameters,
        vm=request.vm,
        cluster_id=request.cluster_id,
    )
    if refusals:
        raise ValidationError({"team": refusals})


def quota_gate(ctx: StepContext) -> StepResult | None:
    """Before an execution's first step: a failed result when the quota no longer allows
    the request (counting the guests and the requests executing ahead of it)."""
    request: Request = ctx.request
    if ctx.step.position != 0 or request.kind not in QUOTA_KINDS:
        return None
    refusals = quota_refusals(
        kind=request.kind,
        request_team=request.team_id,
        parameters=request.parameters,
        vm=request.vm,
        cluster_id=request.cluster_id,
        executing_only=True,
        exclude_request=request.pk,
    )
    if not refusals:
        return None
    from governance.approvals.execution.base import StepResult

    return StepResult.failed(f"Quota exceeded: {' '.join(refusals)}")


def _limit(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or str(number) != str(value).strip():
        raise ValidationError({name: "Give a whole number of 0 or more, or leave it empty."})
    return number


def quota_set(
    *, actor: Any, team: Team, limits: Mapping[str, Any], cluster: Cluster | None = None
) -> TeamQuota:
    """Set ``team``'s limits on ``cluster`` (None: all clusters); ``LIMITS`` keys, missing
    keys keep their value, None or empty lifts a limit. Admins only; audited with before
    and after."""
    if not actor.has_perm("approvals.change_teamquota"):
        raise PermissionDenied("Only admins change team quotas.")
    unknown = set(limits) - set(LIMITS)
    if unknown:
        raise ValidationError(f"Unknown quota limit(s): {', '.join(sorted(unknown))}.")
    wanted = {name: _limit(name, value) for name, value in limits.items()}
    now = timezone.now()
    where = {"team": team.slug, "cluster": cluster.name if cluster is not None else None}
    with transaction.atomic():
        quota = TeamQuota.objects.select_for_update().filter(team=team, cluster=cluster).first()
        before = quota.limits() if quota is not None else None
        if quota is None:
            quota = TeamQuota(team=team, cluster=cluster)
        for name, value in wanted.items():
            setattr(quota, name, value)
        if quota.limits() == before:
            return quota
        quota.updated_at = now
        quota.updated_by = actor
        quota.save()
        audit_record(
            actor=actor,
            action="approvals.quota.set",
            target=quota,
            before={**where, **(before or dict.fromkeys(LIMITS))},
            after={**where, **quota.limits()},
        )
    return quota
