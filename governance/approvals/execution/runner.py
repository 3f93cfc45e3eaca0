"""The step runner: moves one execution one step (or one task poll) along.

Invariants (see also ``governance.approvals.models.execution``):

- Exactly one worker handles a step at a time: the step is claimed under
  ``select_for_update`` with a fresh ``claim`` token and a ``lease_until``; the result is
  recorded only if the token still matches (a worker whose lease ran out and whose step
  was taken over loses its write).
- ``pending -> running`` is committed before the step function calls Proxmox, so a step is
  never started twice: a step found ``running`` after its lease is *recovered* (its task
  looked up by type and vmid since the claim, or its ``recover`` hook asked) before it
  may run again; so is a step retried after an error (a timeout may hide a started
  task). ``atomic`` steps run inside the claiming transaction.
- Nothing sleeps: a Proxmox task is polled once per advance; the caller re-queues with the
  returned countdown. ``next_run_at`` says when the execution wants attention next and
  doubles as the ticket of the one live Celery chain: a message whose ticket is not the
  execution's ``next_run_at`` is stale and dropped, so a resumed execution never ends up
  with two chains.
- Every end (succeeded, failed, cancelled) moves the request too, writes a timeline event
  and an audit event in the same transaction, and tells the requester.
- A step's UPID is stored with its cluster (``task_cluster``): polls, stops and a resumed
  worker always ask the cluster the task runs on.
- Cancel (``cancel_requested_at``, set under the execution's lock) is honoured at step
  boundaries: no pending step is claimed once it is set; a step in flight is recorded
  as it ends (an ``abortable`` step's task is stopped first), then the execution ends
  ``cancelled``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from governance.approvals.execution import live
from governance.approvals.execution.base import (
    MAX_STEP_ATTEMPTS,
    POLL_INTERVAL,
    POLL_MAX,
    ResultKind,
    StepContext,
    StepResult,
    StepSpec,
    steps_of,
)
from governance.approvals.execution.proxmox import default_gateway, task_poll, task_recover
from governance.approvals.execution.transitions import (
    execution_cancelled,
    execution_end,
    log_append,
    step_move,
)
from governance.approvals.models import (
    Execution,
    ExecutionState,
    ExecutionStep,
    RequestEvent,
    RequestEventKind,
    StepState,
)
from governance.approvals.services.quota import quota_gate
from inventory.proxmox import ProxmoxError, ProxmoxGateway

logger = logging.getLogger(__name__)

#: How long a claimed step belongs to its worker; gateway calls time out well before.
STEP_LEASE = timedelta(seconds=120)

GatewayFactory = Callable[[int], ProxmoxGateway]


@dataclass(frozen=True)
class Advance:
    """What an advance left behind: ``again_in`` seconds until the next (None: stop) and
    the ``ticket`` the next message must carry."""

    again_in: float | None
    ticket: str = ""


@dataclass(frozen=True)
class _Work:
    action: str  # run | recover | poll
    execution_id: int
    step_id: int
    claim: str


def ticket_of(execution: Execution) -> str:
    return execution.next_run_at.isoformat() if execution.next_run_at else ""


def _schedule(execution: Execution, now: datetime, again_in: float | None) -> Advance:
    if again_in is None:
        execution.next_run_at = None
        execution.save(update_fields=["next_run_at"])
        return Advance(None)
    execution.next_run_at = now + timedelta(seconds=again_in)
    execution.save(update_fields=["next_run_at"])
    return Advance(again_in, ticket_of(execution))


def _spec(execution: Execution, step: ExecutionStep) -> StepSpec:
    for spec in steps_of(execution.request.kind):
        if spec.name == step.name:
            return spec
    raise LookupError(f"kind {execution.request.kind!r} declares no step {step.name!r}")


def _context(
    execution: Execution, step: ExecutionStep, gateway_factory: GatewayFactory
) -> StepContext:
    results: dict = {}
    for earlier in execution.steps.filter(position__lt=step.position).order_by("position"):
        results.update(earlier.result)
    return StepContext(
        request=execution.request,
        execution=execution,
        step=step,
        results=results,
        gateway_factory=gateway_factory,
    )


def execution_advance(
    *,
    execution_id: int,
    ticket: str | None = None,
    now: datetime | None = None,
    gateway_factory: GatewayFactory | None = None,
) -> Advance:
    """Advance one execution by one step or one poll (see the module docstring).

    ``ticket`` is the ``next_run_at`` the calling message was scheduled for; None skips the
    check (tests, admin actions).
    """
    now = now or timezone.now()
    factory = gateway_factory or default_gateway
    work, advance = _claim(execution_id, ticket, now, factory)
    if work is None:
        return advance
    execution = Execution.objects.select_related("request__vm__node").get(pk=work.execution_id)
    step = ExecutionStep.objects.get(pk=work.step_id)
    spec = _spec(execution, step)
    ctx = _context(execution, step, factory)
    lines: list[str] = []
    try:
        if work.action == "poll":
            stop = spec.abortable and execution.cancel_requested_at is not None
            result, lines = task_poll(ctx, spec, step, stop=stop)
        elif work.action == "recover" or step.attempts > 1:
            # A crash, or an earlier attempt that erred (a timeout may hide a task that
            # did start): look for what it achieved before running it again.
            result = task_recover(ctx, spec, step) or (
                StepResult.retry("not run again: the execution is being cancelled")
                if execution.cancel_requested_at is not None
                else spec.run(ctx)
            )
        else:
            result = quota_gate(ctx) or spec.run(ctx)
    except ProxmoxError as exc:
        result = _from_error(exc, polling=work.action == "poll")
    except Exception as exc:  # a bug in a step must fail the request, not wedge it
        logger.exception("execution %s step %s crashed", execution.pk, step.name)
        result = StepResult.failed(f"internal error in step {step.name}: {exc}")
    if result is not None and result.kind == ResultKind.STARTED and result.cluster_id is None:
        result = replace(result, cluster_id=spec.cluster_of_tasks(ctx))
    return _record(work, result, lines, now)


def _from_error(exc: ProxmoxError, *, polling: bool) -> StepResult:
    if exc.transient:
        return StepResult.retry(f"Proxmox: {exc}")
    return StepResult.failed(f"Proxmox refused: {exc}")


def _claim(
    execution_id: int, ticket: str | None, now: datetime, factory: GatewayFactory
) -> tuple[_Work | None, Advance]:
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("request")
            .get(pk=execution_id)
        )
        if execution.state != ExecutionState.RUNNING:
            return None, Advance(None)
        if ticket is not None and ticket != ticket_of(execution):
            return None, Advance(None)  # a newer message owns this execution
        step = (
            ExecutionStep.objects.select_for_update()
            .filter(execution=execution, position=execution.current)
            .first()
        )
        if step is None:
            execution_end(execution, ExecutionState.SUCCEEDED, now=now)
            return None, _schedule(execution, now, None)
        if execution.cancel_requested_at is not None and step.state not in (
            StepState.WAITING_TASK,
            StepState.RUNNING,
        ):
            # Between steps. A step in flight (or left running by a dead worker, which is
            # recovered below but never run again) is recorded first.
            execution_cancelled(execution, now=now)
            return None, _schedule(execution, now, None)
        if step.state in (StepState.DONE, StepState.SKIPPED):
            execution.current += 1
            execution.save(update_fields=["current"])
            return None, _schedule(execution, now, 0)
        if step.state == StepState.FAILED:
            return None, _schedule(execution, now, None)
        if _leased(step, now):
            # Busy elsewhere, or a retry's not-before time: come back when it is due.
            wait = (step.lease_until - now).total_seconds()
            return None, _schedule(execution, now, wait)
        action = {
            StepState.PENDING: "run",
            StepState.RUNNING: "recover",
            StepState.WAITING_TASK: "poll",
        }[step.state]
        if action == "run":
            step_move(step, StepState.RUNNING)
            step.attempts += 1
            if step.started_at is None:
                step.started_at = now
                RequestEvent.objects.create(
                    request=execution.request,
                    at=now,
                    kind=RequestEventKind.STEP,
                    message=f"started: {step.label or step.name}",
                    data={"position": step.position, "step": step.name, "state": "running"},
                )
        elif action == "recover":
            log_append(step, now, "the worker running this step vanished; recovering")
        step.claim = uuid.uuid4().hex
        step.lease_until = now + STEP_LEASE
        step.save()
        spec = _spec(execution, step)
        if spec.atomic and action != "poll":
            # Database-only work: done in this transaction or not at all.
            ctx = _context(execution, step, factory)
            try:
                with transaction.atomic():
                    result = quota_gate(ctx) or spec.run(ctx)
            except Exception as exc:
                logger.exception("execution %s step %s crashed", execution.pk, step.name)
                result = StepResult.failed(f"step {step.name} failed: {exc}")
            return None, _apply(execution, step, result, [], now)
        return _Work(action, execution.pk, step.pk, step.claim), Advance(None)


def _leased(step: ExecutionStep, now: datetime) -> bool:
    return step.lease_until is not None and step.lease_until > now


def _record(work: _Work, result: StepResult | None, lines: list[str], now: datetime) -> Advance:
    with transaction.atomic():
        execution = (
            Execution.objects.select_for_update(of=("self",))
            .select_related("request")
            .get(pk=work.execution_id)
        )
        step = ExecutionStep.objects.select_for_update().get(pk=work.step_id)
        if step.claim != work.claim or execution.state != ExecutionState.RUNNING:
            return Advance(None)  # taken over or cancelled meanwhile: not ours to write
        return _apply(execution, step, result, lines, now)


def _apply(
    execution: Execution,
    step: ExecutionStep,
    result: StepResult | None,
    lines: list[str],
    now: datetime,
) -> Advance:
    """Record one outcome in the caller's transaction; ``None`` result: the task runs on."""
    if lines:
        step.log = "\n".join([step.log, *lines]) if step.log else "\n".join(lines)
        step.log_offset += len(lines)
    step.lease_until = None
    again: float | None = POLL_INTERVAL
    if result is not None and result.message:
        log_append(step, now, result.message)
    if result is None:
        waited = (now - step.started_at).total_seconds() if step.started_at else 0.0
        again = min(POLL_MAX, max(POLL_INTERVAL, waited / 4))
    elif result.kind == ResultKind.STARTED:
        step_move(step, StepState.WAITING_TASK)
        step.upid = result.upid
        step.task_cluster_id = result.cluster_id
        step.result = {**step.result, **result.remember}
        RequestEvent.objects.create(
            request=execution.request,
            at=now,
            kind=RequestEventKind.TASK,
            message=result.message,
            data={"position": step.position, "step": step.name, "upid": result.upid},
        )
    elif result.kind in (ResultKind.DONE, ResultKind.SKIPPED):
        final = StepState.DONE if result.kind == ResultKind.DONE else StepState.SKIPPED
        if step.state == StepState.WAITING_TASK and final == StepState.SKIPPED:
            final = StepState.DONE
        step_move(step, final)
        step.result = {**step.result, **result.remember}
        step.finished_at = now
        execution.current = step.position + 1
        execution.save(update_fields=["current"])
        RequestEvent.objects.create(
            request=execution.request,
            at=now,
            kind=RequestEventKind.STEP,
            message=f"{final}: {step.label or step.name}",
            data={"position": step.position, "step": step.name, "state": final},
        )
        again = 0
        if not ExecutionStep.objects.filter(
            execution=execution, position=execution.current
        ).exists():
            # The last step: end now rather than spend an advance discovering it.
            step.save()
            execution_end(execution, ExecutionState.SUCCEEDED, now=now)
            _publish(execution, step, lines)
            return _schedule(execution, now, None)
    elif result.kind == ResultKind.RETRY and step.state == StepState.WAITING_TASK:
        again = max(POLL_INTERVAL, result.after)  # the task runs on; the poll failed
    elif result.kind == ResultKind.WAIT or (
        result.kind == ResultKind.RETRY and step.attempts < MAX_STEP_ATTEMPTS
    ):
        step_move(step, StepState.PENDING)
        if result.kind == ResultKind.WAIT:
            step.attempts -= 1  # waiting for something else is not a failed attempt
        step.lease_until = now + timedelta(seconds=result.after)
        again = result.after
    else:
        message = result.message
        if result.kind == ResultKind.RETRY:
            message = f"gave up after {step.attempts} attempts: {message}"
        elif execution.cancel_requested_at is not None and step.upid:
            message = f"{message} (the execution was being cancelled)"
        step_move(step, StepState.FAILED)
        step.error = message
        step.finished_at = now
        step.save()
        if execution.cancel_requested_at is not None:
            execution_cancelled(execution, now=now)
        else:
            execution_end(execution, ExecutionState.FAILED, now=now, error=message)
        _publish(execution, step, lines)
        return _schedule(execution, now, None)
    step.save()
    _publish(execution, step, lines)
    if execution.cancel_requested_at is not None and step.state != StepState.WAITING_TASK:
        # The step in flight is recorded; no further step starts.
        execution_cancelled(execution, now=now)
        return _schedule(execution, now, None)
    return _schedule(execution, now, again)


def _publish(execution: Execution, step: ExecutionStep, lines: list[str]) -> None:
    live.publish_on_commit(
        execution.request,
        {
            "execution": execution.pk,
            "position": step.position,
            "step": step.name,
            "state": step.state,
            "upid": step.upid,
            "lines": lines,
        },
    )


def executions_due(*, now: datetime | None = None, grace: float = 30.0) -> list[int]:
    """Running executions whose next advance is overdue by ``grace`` seconds (lost work)."""
    now = now or timezone.now()
    return list(
        Execution.objects.filter(
            state=ExecutionState.RUNNING, next_run_at__lt=now - timedelta(seconds=grace)
        ).values_list("pk", flat=True)
    )


def execution_reschedule(*, execution_id: int, now: datetime | None = None) -> Advance:
    """Make ``now`` the execution's next run (a new ticket); older messages become stale."""
    now = now or timezone.now()
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        if execution.state != ExecutionState.RUNNING:
            return Advance(None)
        return _schedule(execution, now, 0)
