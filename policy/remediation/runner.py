"""``remediation_step``: move one ``Remediation`` one step along its state machine.

Invariants:

- A remediation is executed at most once at a time and never after it ended: the step
  that moves it ``pending -> running`` (under ``select_for_update``) is the only one that
  calls the executor; other steps only poll its Proxmox task or return.
- No step waits: it starts an operation or reads a task's status and says when it wants
  to be called again (``Step.again_in``); the Celery task re-queues itself with that
  countdown.
- A locked guest, a stale digest, an unreachable cluster or a task that failed on a lock
  send the remediation back to ``pending`` with exponential backoff (``attempts``,
  ``next_attempt_at``) and no change made; after ``MAX_ATTEMPTS`` it ``fails``.
- Every end (done, failed, not possible) is audited in the transaction that records it,
  and the violation's ``remediation_state`` mirrors the newest remediation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

import policy.remediation.cluster
import policy.remediation.guest
import policy.remediation.quarantine  # noqa: F401 - the imports register the executors
from governance.audit.services import audit_record
from inventory.proxmox import (
    ProxmoxError,
    ProxmoxGateway,
    ProxmoxNotFound,
    ProxmoxPermissionDenied,
)
from inventory.services.clusters import cluster_endpoint
from policy.models import (
    QUARANTINE_TRANSITIONS,
    REMEDIATION_TRANSITIONS,
    ActionKind,
    Quarantine,
    QuarantineState,
    Remediation,
    RemediationRunState,
    RemediationState,
    Violation,
)
from policy.remediation.base import EXECUTORS, Context, Outcome, OutcomeKind, Target

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = 30.0  # seconds; doubles per attempt
BACKOFF_CAP = 3600.0
POLL_INTERVAL = 5.0
# A running remediation without a task id whose worker vanished mid-call.
STALE_AFTER = timedelta(minutes=15)

_TERMINAL = {
    RemediationRunState.DONE,
    RemediationRunState.FAILED,
    RemediationRunState.NOT_POSSIBLE,
    RemediationRunState.CANCELLED,
}
_VIOLATION_STATE = {
    RemediationRunState.PENDING: RemediationState.PENDING,
    RemediationRunState.RUNNING: RemediationState.RUNNING,
    RemediationRunState.DONE: RemediationState.DONE,
    RemediationRunState.FAILED: RemediationState.FAILED,
    RemediationRunState.NOT_POSSIBLE: RemediationState.NOT_POSSIBLE,
}


@dataclass(frozen=True)
class Step:
    """What one step left behind: the state, and when to step again (None: never)."""

    state: str
    again_in: float | None = None


def backoff(attempts: int) -> float:
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))


def _gateway(cluster_id: int) -> ProxmoxGateway:
    from inventory.models import Cluster

    return ProxmoxGateway(cluster_endpoint(Cluster.objects.get(pk=cluster_id)))


def _target(remediation: Remediation) -> Target:
    cluster_row = remediation.cluster
    version = cluster_row.pve_version or "9"
    major = int(version.split(".", 1)[0]) if version[:1].isdigit() else 9
    vm = remediation.vm
    if vm is None:
        return Target(cluster_id=cluster_row.pk, pve_major=major)
    return Target(
        cluster_id=cluster_row.pk,
        pve_major=major,
        vm_id=vm.pk,
        vmid=vm.vmid,
        kind=vm.kind,
        node=vm.node.name if vm.node_id else "",
    )


def _log(remediation: Remediation, now: datetime, message: str) -> None:
    line = f"{now:%Y-%m-%d %H:%M:%S} {message}"
    remediation.log = f"{remediation.log}\n{line}" if remediation.log else line


def _move(remediation: Remediation, state: str) -> None:
    if state not in REMEDIATION_TRANSITIONS[remediation.state]:
        raise ValueError(f"remediation {remediation.pk}: {remediation.state} -> {state}")
    remediation.state = state


def _mirror(remediation: Remediation) -> None:
    """The violation shows its newest remediation's state; quarantines follow theirs."""
    if remediation.violation_id and remediation.state in _VIOLATION_STATE:
        state = _VIOLATION_STATE[remediation.state]
        if state == RemediationState.DONE and remediation.params.get("removal_pending"):
            state = RemediationState.REMOVAL_PENDING  # the device goes at the next cold start
        Violation.objects.filter(pk=remediation.violation_id).update(remediation_state=state)


def _claim(remediation_id: int, now: datetime) -> tuple[Remediation | None, Step | None]:
    """Lock the row; the remediation to execute (now running), or the step to report."""
    with transaction.atomic():
        rem = (
            # of=self: PostgreSQL cannot lock the nullable side of the outer joins.
            Remediation.objects.select_for_update(of=("self",))
            .select_related("cluster", "vm__node", "violation")
            .get(pk=remediation_id)
        )
        if rem.dry_run or rem.state in _TERMINAL:
            return None, Step(rem.state)
        if rem.state == RemediationRunState.RUNNING:
            if rem.upid:
                return rem, None  # poll its task
            if rem.started_at and now - rem.started_at > STALE_AFTER:
                _move(rem, RemediationRunState.PENDING)
                _log(rem, now, "the worker running this step vanished; retrying")
                rem.save(update_fields=["state", "log"])
                return None, Step(rem.state, again_in=0)
            return None, Step(rem.state)  # another worker is executing it right now
        if rem.next_attempt_at and rem.next_attempt_at > now:
            return None, Step(rem.state, (rem.next_attempt_at - now).total_seconds())
        _move(rem, RemediationRunState.RUNNING)
        rem.attempts += 1
        rem.started_at = now
        rem.save(update_fields=["state", "attempts", "started_at"])
        _mirror(rem)
        if rem.action == ActionKind.QUARANTINE_APPLY and rem.vm_id:
            _quarantine_open(rem, now)
        elif rem.action == ActionKind.QUARANTINE_LIFT and "firewall_was_enabled" not in rem.params:
            rem.params = {**rem.params, "firewall_was_enabled": _firewall_was_enabled(rem)}
            rem.save(update_fields=["params"])
        return rem, None


def remediation_step(
    *, remediation_id: int, now: datetime | None = None, gateway: ProxmoxGateway | None = None
) -> Step:
    """Advance one remediation by one step (see the module docstring)."""
    now = now or timezone.now()
    rem, step = _claim(remediation_id, now)
    if rem is None:
        assert step is not None
        return step
    executor = EXECUTORS.get(rem.action)
    if executor is None:
        return _finish(rem.pk, Outcome.failed(f"no executor for {rem.action!r}"), now)
    ctx = Context(
        gateway=gateway or _gateway(rem.cluster_id),
        target=_target(rem),
        params=dict(rem.params),
        remediation_id=rem.pk,
    )
    try:
        outcome = _poll(ctx, rem, executor.verify) if rem.upid else executor.run(ctx)
    except ProxmoxPermissionDenied as exc:
        outcome = Outcome.not_possible(f"Proxmox refused: {exc.message}")
    except ProxmoxNotFound as exc:
        outcome = Outcome.retry(f"not found ({exc.message}); waiting for the next sync")
    except ProxmoxError as exc:
        outcome = Outcome.retry(str(exc)) if exc.transient else Outcome.failed(str(exc))
    return _finish(rem.pk, outcome, now)


def _poll(ctx: Context, rem: Remediation, verify: object) -> Outcome:
    task = ctx.gateway.task_status(rem.upid)
    if task.running:
        return Outcome.started(rem.upid, "")
    if not task.ok:
        if "is locked" in task.status:
            return Outcome.retry(f"task {rem.upid} failed: {task.status}")
        return Outcome.failed(f"task {rem.upid} failed: {task.status}")
    if callable(verify):
        return verify(ctx)
    return Outcome.done(f"task {rem.upid} ended OK")


def _finish(remediation_id: int, outcome: Outcome, now: datetime) -> Step:
    with transaction.atomic():
        rem = Remediation.objects.select_for_update().get(pk=remediation_id)
        if rem.state != RemediationRunState.RUNNING:  # cancelled meanwhile
            return Step(rem.state)
        if outcome.message:
            _log(rem, now, outcome.message)
        rem.params = {**rem.params, **outcome.remember}
        again: float | None = None
        if outcome.kind == OutcomeKind.STARTED:
            rem.upid, again = outcome.upid, POLL_INTERVAL
        elif outcome.kind == OutcomeKind.RETRY and rem.attempts < MAX_ATTEMPTS:
            _move(rem, RemediationRunState.PENDING)
            again = backoff(rem.attempts)
            rem.upid, rem.next_attempt_at = "", now + timedelta(seconds=again)
            _log(rem, now, f"retrying in {again:.0f} s (attempt {rem.attempts})")
        else:
            final = {
                OutcomeKind.DONE: RemediationRunState.DONE,
                OutcomeKind.NOT_POSSIBLE: RemediationRunState.NOT_POSSIBLE,
            }.get(outcome.kind, RemediationRunState.FAILED)
            _move(rem, final)
            rem.finished_at = now
            if final != RemediationRunState.DONE:
                rem.error = outcome.message
            _on_end(rem, now)
            audit_record(
                actor=rem.requested_by,
                action=f"policy.remediation.{final}",
                target=rem,
                after={
                    "action": rem.action,
                    "params": rem.params,
                    "vm": rem.vm_id,
                    "message": outcome.message,
                },
            )
        rem.save()
        _mirror(rem)
        return Step(rem.state, again)


# Paths through QUARANTINE_TRANSITIONS when an apply (re-)succeeds or fails.
_TO_VERIFIED = {
    QuarantineState.PENDING: (QuarantineState.APPLIED, QuarantineState.VERIFIED),
    QuarantineState.APPLIED: (QuarantineState.VERIFIED,),
    QuarantineState.VERIFIED: (QuarantineState.APPLIED, QuarantineState.VERIFIED),
    QuarantineState.FAILED: (
        QuarantineState.PENDING,
        QuarantineState.APPLIED,
        QuarantineState.VERIFIED,
    ),
}
_TO_FAILED = {
    QuarantineState.PENDING: (QuarantineState.FAILED,),
    QuarantineState.APPLIED: (QuarantineState.FAILED,),
    QuarantineState.VERIFIED: (QuarantineState.APPLIED, QuarantineState.FAILED),
    QuarantineState.FAILED: (),
}


def _firewall_was_enabled(lift: Remediation) -> bool:
    """What the newest successful apply found before it enabled the guest firewall."""
    applied = (
        Remediation.objects.filter(
            vm_id=lift.vm_id,
            action=ActionKind.QUARANTINE_APPLY,
            state=RemediationRunState.DONE,
        )
        .order_by("-finished_at")
        .first()
    )
    return bool((applied.params if applied else {}).get("firewall_was_enabled", True))


def _quarantine_open(rem: Remediation, now: datetime) -> None:
    """The open quarantine an apply works for: the VM's, or a new one for its cause."""
    if Quarantine.objects.filter(vm_id=rem.vm_id, lifted_at__isnull=True).exists():
        return
    violation = rem.violation
    Quarantine.objects.create(
        vm_id=rem.vm_id,
        cause=str(rem.params.get("cause", "manual")),
        reason=str(rem.params.get("reason", "")),
        policy_id=violation.policy_id if violation is not None else None,
        since=now,
    )


def _quarantine_move(quarantine: Quarantine, *states: str) -> None:
    for state in states:
        if state not in QUARANTINE_TRANSITIONS[quarantine.applied_state]:
            raise ValueError(f"quarantine {quarantine.pk}: {quarantine.applied_state} -> {state}")
        quarantine.applied_state = state


def _on_end(rem: Remediation, now: datetime) -> None:
    """Quarantine rows follow the remediations that apply and lift them."""
    if rem.action == ActionKind.QUARANTINE_APPLY:
        q = Quarantine.objects.filter(vm_id=rem.vm_id, lifted_at__isnull=True).first()
        if q is None:
            return
        if rem.state == RemediationRunState.DONE:
            _quarantine_move(q, *_TO_VERIFIED[q.applied_state])
            q.verified_at = now
        else:
            _quarantine_move(q, *_TO_FAILED[q.applied_state])
        q.save(update_fields=["applied_state", "verified_at"])
    elif rem.action == ActionKind.QUARANTINE_LIFT and rem.quarantine_id:
        q = Quarantine.objects.get(pk=rem.quarantine_id)
        if rem.state == RemediationRunState.DONE:
            # The reconciler plans lifts without marking them lifting first.
            steps = () if q.applied_state == QuarantineState.LIFTING else (QuarantineState.LIFTING,)
            _quarantine_move(q, *steps, QuarantineState.LIFTED)
            q.lifted_at = now
        else:
            _quarantine_move(q, QuarantineState.FAILED)
        q.save(update_fields=["applied_state", "lifted_at"])
