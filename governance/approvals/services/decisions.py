"""Approving and rejecting requests, with separation of duties.

Invariants (each refusal says why, and nothing is recorded):
- Only a pending request is decided; a decided one answers ``AlreadyDecided``.
- Steps are decided in order: a decision always goes to the first unsatisfied step, and the
  decider must match that step's approver rule.
- Nobody decides on their own request; one person holds at most one valid decision per
  request, so cannot fill two steps (or count twice in an all-of step). Both are also
  database constraints, so a race cannot slip past.
- A decision names the revision it was made on; a request changed since answers
  ``StaleRevision`` instead of approving something the approver did not see.
- The last needed approval approves the request and starts its execution in the same
  transaction; a rejection ends it. The requester hears of each step approved
  (``approvals.decision``), of the request approved (``approvals.approved``, also sent
  when ``request_submit`` approves it automatically) and of a
  rejection (``approvals.rejected``): outcomes have kinds of their own, so an unread
  progress notice never swallows one (one unread row per person, kind and request).
  The next step's approvers are told it waits for them (``approvals.pending``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.approvals.execution.transitions import request_link
from governance.approvals.models import (
    Approval,
    Decision,
    Request,
    RequestEventKind,
    RequestState,
    RequestStep,
)
from governance.approvals.services import chains
from governance.approvals.states import event_add, request_move
from governance.audit.services import audit_record
from governance.notifications.services import notify, notify_many


class AlreadyDecided(ValidationError):
    """The request is no longer waiting for decisions."""


class StaleRevision(ValidationError):
    """The request changed after the decider looked at it."""


def current_step(request: Request) -> RequestStep | None:
    """The first step still lacking approvals (None: all satisfied)."""
    return request.steps.filter(satisfied_at__isnull=True).order_by("position").first()


def notify_next(request: Request, *, told: Iterable[int] = ()) -> None:
    """Tell the current step's approvers it waits for them: not the requester, not who
    already decided, not the people in ``told`` (just told otherwise)."""
    step = current_step(request)
    if step is None:
        return
    decided = Approval.objects.filter(request=request, voided_at__isnull=True).values_list(
        "approver_id", flat=True
    )
    users = (
        chains.step_approvers(step)
        .exclude(pk=request.requester_id)
        .exclude(pk__in=decided)
        .exclude(pk__in=list(told))
    )
    notify_many(
        users=list(users),
        kind="approvals.pending",
        subject=f"Request #{request.pk} ({request.get_kind_display()}) waits for your decision",
        body=f"Step: {step.name}",
        link=request_link(request.pk),
    )


def notify_approved(request: Request, *, body: str) -> None:
    """Tell the requester their request is approved: by its last approver or, below the
    chain's thresholds, automatically; the same notice either way."""
    notify(
        user=request.requester,
        kind="approvals.approved",
        subject=f"Request #{request.pk} ({request.get_kind_display()}) was approved; "
        "its execution is queued",
        body=body,
        link=request_link(request.pk),
    )


def _check(actor: Any, request: Request, revision: int | None) -> RequestStep:
    if request.state != RequestState.PENDING:
        raise AlreadyDecided(
            f"Request #{request.pk} is already {request.get_state_display().lower()}; "
            "your decision was not recorded."
        )
    if revision is not None and revision != request.revision:
        raise StaleRevision(
            f"Request #{request.pk} changed since you opened it (now revision "
            f"{request.revision}); review it again before deciding."
        )
    if actor.pk == request.requester_id:
        raise PermissionDenied("Nobody approves their own request.")
    earlier = (
        Approval.objects.filter(request=request, approver=actor, voided_at__isnull=True)
        .select_related("step")
        .first()
    )
    if earlier is not None:
        raise PermissionDenied(
            f"You already decided on this request (step “{earlier.step.name}”); "
            "another person must decide this step."
        )
    step = current_step(request)
    if step is None:  # every step satisfied but not yet approved: cannot persist
        raise AlreadyDecided(f"Request #{request.pk} needs no further approval.")
    if not chains.step_eligible(step, actor):
        raise PermissionDenied(f"You are not an approver of step “{step.name}”.")
    return step


def _decide(
    *, actor: Any, request: Request, decision: str, comment: str, revision: int | None, now: Any
) -> tuple[Request, RequestStep]:
    request = Request.objects.select_for_update(of=("self",)).get(pk=request.pk)
    step = _check(actor, request, revision)
    try:
        with transaction.atomic():
            Approval.objects.create(
                request=request,
                step=step,
                approver=actor,
                requester_id=request.requester_id,
                decision=decision,
                comment=comment.strip(),
                revision=request.revision,
                at=now,
            )
    except IntegrityError:
        raise PermissionDenied("You already decided on this request.") from None
    event_add(
        request,
        kind=RequestEventKind.APPROVED
        if decision == Decision.APPROVE
        else RequestEventKind.REJECTED,
        at=now,
        actor=actor,
        message=comment.strip(),
        data={"step": step.name, "position": step.position, "revision": request.revision},
    )
    audit_record(
        actor=actor,
        action=f"approvals.request.{decision}",
        target=request,
        after={"step": step.name, "revision": request.revision, "comment": comment.strip()},
    )
    return request, step


def request_approve(
    *,
    actor: Any,
    request: Request,
    comment: str = "",
    revision: int | None = None,
    now: datetime | None = None,
) -> Request:
    """Record ``actor``'s approval of the current step (see the module docstring)."""
    now = now or timezone.now()
    with transaction.atomic():
        request, step = _decide(
            actor=actor,
            request=request,
            decision=Decision.APPROVE,
            comment=comment,
            revision=revision,
            now=now,
        )
        count = Approval.objects.filter(
            step=step,
            decision=Decision.APPROVE,
            revision=request.revision,
            voided_at__isnull=True,
        ).count()
        if count >= step.required:
            step.satisfied_at = now
            step.save(update_fields=["satisfied_at"])
        link = request_link(request.pk)
        if current_step(request) is None:
            from governance.approvals.services.executions import request_approved

            notify_approved(
                request,
                body=f"Last approval: {actor.get_username()} on “{step.name}”. {comment}".strip(),
            )
            request_approved(request, actor=actor, now=now, message="all approvals given")
        else:
            notify(
                user=request.requester,
                kind="approvals.decision",
                subject=f"Request #{request.pk}: {actor.get_username()} approved “{step.name}”",
                body=comment,
                link=link,
            )
            notify_next(request)
    return request


def request_reject(
    *,
    actor: Any,
    request: Request,
    comment: str = "",
    revision: int | None = None,
    now: datetime | None = None,
) -> Request:
    """Record ``actor``'s rejection; the request ends rejected."""
    if not comment.strip():
        raise ValidationError({"comment": "Say why you reject the request."})
    now = now or timezone.now()
    with transaction.atomic():
        request, _step = _decide(
            actor=actor,
            request=request,
            decision=Decision.REJECT,
            comment=comment,
            revision=revision,
            now=now,
        )
        request_move(request, RequestState.REJECTED, actor=actor, at=now, message=comment)
        notify(
            user=request.requester,
            kind="approvals.rejected",
            subject=f"Request #{request.pk} was rejected by {actor.get_username()}",
            body=comment,
            link=request_link(request.pk),
        )
    return request
