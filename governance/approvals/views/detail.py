"""One request's page and the decisions taken on it.

The page shows the request, the steps it needs with each decision and its comment, the
timeline (submission, decisions, voided approvals, state changes, execution steps and
Proxmox tasks) and, for whoever may act now, the matching buttons. Every action posts to
a service; an action that is no longer possible (the request was decided a moment ago,
a double click) comes back as a message on the page, never as a second effect.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from governance.accounts.roles import Role, has_role
from governance.approvals.execution.base import steps_of
from governance.approvals.lists import request_inbox, request_timeline, request_visible
from governance.approvals.models import (
    Execution,
    ExecutionState,
    ExecutionStep,
    Request,
    RequestState,
    StepState,
)
from governance.approvals.services.decisions import request_approve, request_reject
from governance.approvals.services.executions import execution_cancel, execution_retry
from governance.approvals.services.requests import request_cancel


class DecisionForm(forms.Form):
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when you reject.",
    )
    # The revision the approver looked at: approving a request changed since is refused.
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def request_page_context(request: HttpRequest, found: Request) -> dict[str, Any]:
    user = request.user
    steps = list(found.steps.prefetch_related("approvals__approver").order_by("position"))
    execution = Execution.objects.filter(request=found).first()
    execution_steps = list(execution.steps.order_by("position")) if execution else []
    may_decide = request_inbox(user=user).filter(pk=found.pk).exists()
    is_admin = has_role(user, Role.ADMIN)
    running = (
        execution is not None
        and found.state == RequestState.EXECUTING
        and execution.state == ExecutionState.RUNNING
    )
    return {
        "req": found,
        "steps": steps,
        "timeline": request_timeline(request=found),
        "execution": execution,
        "execution_steps": execution_steps,
        "may_decide": may_decide,
        "decision_form": DecisionForm(initial={"revision": found.revision}) if may_decide else None,
        "may_cancel": found.state == RequestState.PENDING and found.requester_id == user.pk,
        "may_retry": is_admin and found.state == RequestState.FAILED,
        "may_abort": is_admin and found.state == RequestState.FAILED,
        "may_stop": is_admin and running and execution.cancel_requested_at is None,
        "stop_aborts_task": running and _current_abortable(execution, execution_steps),
        "live_events": found.state not in _FINAL,
    }


_FINAL = frozenset(
    {RequestState.REJECTED, RequestState.EXPIRED, RequestState.CANCELLED, RequestState.SUCCEEDED}
)


def _current_abortable(execution: Execution, steps: list[ExecutionStep]) -> bool:
    """Whether cancelling now would stop the current step's Proxmox task."""
    current = next((s for s in steps if s.position == execution.current), None)
    if current is None or current.state != StepState.WAITING_TASK:
        return False
    try:
        specs = steps_of(execution.request.kind)
    except LookupError:
        return False
    return any(spec.name == current.name and spec.abortable for spec in specs)


def _visible(request: HttpRequest, pk: int) -> Request:
    return get_object_or_404(request_visible(user=request.user), pk=pk)


def _refused(request: HttpRequest, error: ValidationError | PermissionDenied) -> None:
    for message in getattr(error, "messages", None) or [str(error) or "Not allowed."]:
        messages.error(request, message)


@login_required
@require_POST
def decide_view(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    found = _visible(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The decision could not be read; nothing was recorded.")
        return redirect("approvals:request", pk=pk)
    act = request_approve if decision == "approve" else request_reject
    try:
        act(
            actor=request.user,
            request=found,
            comment=form.cleaned_data["comment"],
            revision=form.cleaned_data["revision"],
        )
    except (ValidationError, PermissionDenied) as error:
        _refused(request, error)
    else:
        done = "Approved" if decision == "approve" else "Rejected"
        messages.success(request, f"{done} request #{found.pk}.")
    return redirect("approvals:request", pk=pk)


@login_required
@require_POST
def cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    found = _visible(request, pk)
    try:
        if found.state in (RequestState.FAILED, RequestState.EXECUTING):
            # An execution is cancelled by an admin (the service checks the role); a
            # running one stops at its next step boundary.
            execution_cancel(
                actor=request.user,
                execution=get_object_or_404(Execution, request=found),
                reason=request.POST.get("reason", "")[:2000],
            )
        else:
            request_cancel(actor=request.user, request=found)
    except (ValidationError, PermissionDenied) as error:
        _refused(request, error)
    else:
        found.refresh_from_db()
        if found.state == RequestState.EXECUTING:
            messages.success(
                request,
                f"Request #{found.pk}: cancel accepted; it stops once the Proxmox task in "
                "progress ends. No further step will run.",
            )
        else:
            messages.success(request, f"Request #{found.pk} cancelled.")
    return redirect("approvals:request", pk=pk)


@login_required
@require_POST
def retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    found = _visible(request, pk)
    if not has_role(request.user, Role.ADMIN):
        raise PermissionDenied
    execution = get_object_or_404(Execution, request=found)
    try:
        execution_retry(actor=request.user, execution=execution)
    except ValidationError as error:
        _refused(request, error)
    else:
        messages.success(request, f"Request #{found.pk}: execution retried from the failed step.")
    return redirect("approvals:request", pk=pk)
