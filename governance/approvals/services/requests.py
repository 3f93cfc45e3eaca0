"""Submitting, changing, cancelling and expiring requests.

Invariants:
- ``request_submit`` with an ``idempotency_key`` already used by the same requester returns
  that request unchanged (a double-click creates one request); used by someone else it is
  refused.
- A VM the requester cannot see answers ``Http404``, exactly like its page.
- Parameters are checked by the kind's validator (``VALIDATORS``) before anything is
  stored; a request is created with its steps copied from its chain, and either waits for
  the first step's approvers (who are notified) or, below the chain's thresholds, is
  approved at once, its requester told as after a human approval, and its execution
  queued.
- ``request_update`` bumps ``revision`` and voids every still-valid approval (they approved
  something else); only the requester changes a pending request. Those whose approval was
  voided are told to decide again (``approvals.voided``); the current step's other
  approvers are told it waits for them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from governance.approvals.models import (
    Approval,
    Request,
    RequestEventKind,
    RequestKind,
    RequestState,
)
from governance.approvals.services import chains
from governance.approvals.services.quota import quota_hold, revalidation_of
from governance.approvals.states import event_add, request_move
from governance.audit.services import audit_record
from governance.core.permissions import restrict
from inventory.models import Cluster, VirtualMachine

#: Kinds that act on an existing VM (it must be visible to the requester and live).
VM_KINDS = frozenset(RequestKind) - {RequestKind.PROVISION, RequestKind.IMPORT}

Validator = Callable[..., dict[str, Any]]
#: Per-kind parameter checks: ``fn(*, requester, vm, cluster, parameters) -> parameters``
#: raising ``ValidationError``; other parts of the app register theirs here.
VALIDATORS: dict[str, Validator] = {}


def validator(kind: str) -> Callable[[Validator], Validator]:
    def register(fn: Validator) -> Validator:
        VALIDATORS[kind] = fn
        return fn

    return register


def _check_common(parameters: dict[str, Any]) -> None:
    for key in ("lease_end", "until"):
        value = parameters.get(key)
        if not value:
            continue
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            raise ValidationError({key: "Not a date (YYYY-MM-DD)."}) from None
        if day < timezone.localdate():
            raise ValidationError({key: "This date is in the past; choose a later one."})


def _visible_vm(requester: Any, vm: VirtualMachine | int | None) -> VirtualMachine | None:
    if vm is None:
        return None
    vm_id = vm.pk if isinstance(vm, VirtualMachine) else int(vm)
    found = (
        restrict(VirtualMachine.objects.select_related("node", "cluster"), requester)
        .filter(pk=vm_id)
        .first()
    )
    if found is None:
        raise Http404("No such VM.")
    if found.gone_since is not None:
        raise ValidationError("This VM no longer exists in Proxmox.")
    return found


def _team_of(vm: VirtualMachine | None, parameters: dict[str, Any]) -> int | None:
    """The team whose managers decide: the VM's current team, or for a new VM the team
    the requester chose (an ownership transfer's ``team`` is the receiving team, which
    does not get to approve taking the VM)."""
    if vm is None:
        return int(parameters["team"]) if parameters.get("team") else None
    from governance.ownership.services import ownership_current

    current = ownership_current(vm_id=vm.pk)
    return current.team_id if current is not None else None


def _expiry(chain: Any, now: datetime) -> datetime | None:
    hours = chain.expire_after_hours if chain is not None else 72
    return now + timedelta(hours=hours) if hours else None


def request_submit(
    *,
    requester: Any,
    kind: str,
    parameters: dict[str, Any],
    justification: str = "",
    idempotency_key: str,
    vm: VirtualMachine | int | None = None,
    cluster: Cluster | None = None,
    now: datetime | None = None,
) -> Request:
    """Create a request (see the module docstring); returns the existing one on a repeat."""
    if kind not in RequestKind.values:
        raise ValidationError({"kind": f"Unknown request kind {kind!r}."})
    key = str(idempotency_key or "").strip()
    if not key or len(key) > 64:
        raise ValidationError({"idempotency_key": "A submission key (up to 64 chars) is needed."})
    earlier = Request.objects.filter(idempotency_key=key).first()
    if earlier is not None:
        return _repeat(earlier, requester)
    target = _visible_vm(requester, vm)
    if kind in VM_KINDS and target is None:
        raise ValidationError({"vm": "This kind of request needs a VM."})
    if cluster is None and target is not None:
        cluster = target.cluster
    if cluster is None:
        raise ValidationError({"cluster": "Choose a cluster."})
    params = dict(parameters)
    _check_common(params)
    check = VALIDATORS.get(kind)
    if check is not None:
        params = check(requester=requester, vm=target, cluster=cluster, parameters=params)
    now = now or timezone.now()
    request = Request(
        kind=kind,
        requester=requester,
        vm=target,
        cluster=cluster,
        team_id=_team_of(target, params),
        parameters=params,
        justification=justification.strip(),
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )
    chain = chains.chain_for(request)
    auto = chains.auto_approvable(request, chain)
    request.chain = chain
    request.expires_at = None if auto else _expiry(chain, now)
    try:
        with transaction.atomic():
            quota_hold(request)  # locks the team's quota until commit: none squeezes past
            request.save()
            chains.steps_build(request, () if auto else chains.plan_for(request, chain))
            event_add(request, kind=RequestEventKind.SUBMITTED, at=now, actor=requester)
            audit_record(
                actor=requester,
                action="approvals.request.submitted",
                target=request,
                after={"kind": kind, "vm": request.vm_id, "parameters": params},
            )
            if auto:
                request.auto_approved = True
                request.save(update_fields=["auto_approved"])
                from governance.approvals.services.decisions import notify_approved
                from governance.approvals.services.executions import request_approved

                notify_approved(request, body="Approved automatically: within the chain's limits.")
                request_approved(request, actor=None, now=now, message="approved automatically")
            else:
                from governance.approvals.services.decisions import notify_next

                notify_next(request)
    except IntegrityError:
        # The same key won a race with this submit (two clicks at once).
        earlier = Request.objects.filter(idempotency_key=key).first()
        if earlier is None:
            raise
        return _repeat(earlier, requester)
    return request


def _repeat(earlier: Request, requester: Any) -> Request:
    if earlier.requester_id != requester.pk:
        raise ValidationError({"idempotency_key": "This submission key is already used."})
    return earlier


def _locked(request_id: int) -> Request:
    return Request.objects.select_for_update(of=("self",)).select_related("vm").get(pk=request_id)


def request_update(
    *,
    actor: Any,
    request: Request,
    parameters: dict[str, Any] | None = None,
    justification: str | None = None,
    now: datetime | None = None,
) -> Request:
    """Change a pending request; bumps ``revision`` and voids earlier approvals."""
    now = now or timezone.now()
    with transaction.atomic():
        request = _locked(request.pk)
        if request.requester_id != actor.pk:
            raise PermissionDenied("Only the requester changes a request.")
        if request.state != RequestState.PENDING:
            raise ValidationError(
                f"Request #{request.pk} is already {request.get_state_display().lower()}; "
                "it can no longer be changed."
            )
        before = {"parameters": request.parameters, "justification": request.justification}
        if parameters is not None:
            params = dict(parameters)
            _check_common(params)
            check = VALIDATORS.get(request.kind)
            if check is not None:
                with revalidation_of(request.pk):  # its old reservation is not counted
                    params = check(
                        requester=actor, vm=request.vm, cluster=request.cluster, parameters=params
                    )
            request.parameters = params
        if justification is not None:
            request.justification = justification.strip()
        after = {"parameters": request.parameters, "justification": request.justification}
        if after == before:
            return request
        request.revision += 1
        request.updated_at = now
        request.save(update_fields=["parameters", "justification", "revision", "updated_at"])
        valid = Approval.objects.filter(request=request, voided_at__isnull=True)
        voided_approvers = list(valid.values_list("approver_id", flat=True))
        voided = valid.update(voided_at=now)
        request.steps.update(satisfied_at=None)
        event_add(
            request,
            kind=RequestEventKind.UPDATED,
            at=now,
            actor=actor,
            message=f"revision {request.revision}",
            data={"revision": request.revision, "voided": voided},
        )
        if voided:
            event_add(
                request,
                kind=RequestEventKind.VOIDED,
                at=now,
                message=f"{voided} approval(s) voided: they approved an earlier revision",
            )
        audit_record(
            actor=actor,
            action="approvals.request.updated",
            target=request,
            before=before,
            after={**after, "revision": request.revision, "voided": voided},
        )
        _notify_voided(request, voided_approvers)
        from governance.approvals.services.decisions import notify_next

        notify_next(request, told=voided_approvers)
    return request


def _notify_voided(request: Request, approver_ids: list[int]) -> None:
    """Tell whoever approved an earlier revision that it no longer counts."""
    if not approver_ids:
        return
    from django.contrib.auth import get_user_model

    from governance.approvals.execution.transitions import request_link
    from governance.notifications.services import notify_many

    notify_many(
        users=get_user_model().objects.filter(pk__in=approver_ids),
        kind="approvals.voided",
        subject=f"Request #{request.pk} changed after your decision: please decide again",
        body=f"It is now revision {request.revision}; your earlier decision no longer counts.",
        link=request_link(request.pk),
    )


def request_cancel(*, actor: Any, request: Request, now: datetime | None = None) -> Request:
    """The requester (or an admin) withdraws a request nobody has acted on yet."""
    from governance.accounts.roles import Role, has_role

    now = now or timezone.now()
    with transaction.atomic():
        request = _locked(request.pk)
        if request.requester_id != actor.pk and not has_role(actor, Role.ADMIN):
            raise PermissionDenied("Only the requester or an admin cancels a request.")
        if request.state not in (RequestState.PENDING, RequestState.APPROVED):
            raise ValidationError(
                f"Request #{request.pk} is already {request.get_state_display().lower()}; "
                "it cannot be cancelled."
            )
        request_move(request, RequestState.CANCELLED, actor=actor, at=now, message="cancelled")
    return request


def requests_expire(*, now: datetime | None = None) -> int:
    """Expire pending requests past ``expires_at`` (beat); the requester is told."""
    from governance.approvals.execution.transitions import request_link
    from governance.notifications.services import notify

    now = now or timezone.now()
    ids = list(
        Request.objects.filter(state=RequestState.PENDING, expires_at__lt=now).values_list(
            "pk", flat=True
        )
    )
    expired = 0
    for request_id in ids:
        with transaction.atomic():
            request = _locked(request_id)
            if request.state != RequestState.PENDING or not request.expires_at:
                continue
            if request.expires_at >= now:
                continue
            request_move(
                request,
                RequestState.EXPIRED,
                actor=None,
                at=now,
                message="nobody decided in time",
            )
            notify(
                user=request.requester,
                kind="approvals.expired",
                subject=f"Request #{request.pk} expired: nobody decided in time",
                link=request_link(request.pk),
            )
            expired += 1
    return expired
