"""The execution engine: approved requests run here, step by step, as Celery work.

How a kind declares its steps (``governance.approvals.execution.base``)::

    from governance.approvals.execution.base import StepContext, StepResult, StepSpec, kind

    def _delete(ctx: StepContext) -> StepResult:
        vm = ctx.vm_target()                      # node/kind/vmid as last synced
        upid = ctx.gateway.snapshot_delete(**vm, name=ctx.params["snapshot"])
        return StepResult.started(upid, "deleting the snapshot")

    kind(
        "snapshot_delete",
        StepSpec("delete", "Delete the snapshot", _delete, task_types=("qmdelsnapshot",)),
        StepSpec("ledger", "Close the copy ledger row", _ledger, atomic=True),
    )

Kind modules live in ``governance/approvals/execution/kinds/<kind>.py``; every module there
is imported (and so declared) the first time ``steps_of`` is called.

A step function gets a ``StepContext`` and returns a ``StepResult`` quickly, never
sleeping:

- ``StepResult.done(message, **remember)``: finished; ``remember`` is stored on the step
  (``ExecutionStep.result``) and every later step sees it in ``ctx.results``
  (merged, later steps win).
- ``StepResult.started(upid, message, **remember)``: a Proxmox task was started; the engine
  stores the UPID, then polls ``task_status`` once per advance (re-queueing itself with a
  countdown, never blocking a worker), copies new ``task_log`` lines into the step's log
  and publishes them live. When the task ends OK the step's ``verify`` (if any) runs and
  returns ``done`` or ``failed``; a task that ends in error fails the step.
  ``on_cluster=<cluster id>`` names the cluster the task runs on when it is not the
  step's ``task_cluster`` (default: the request's); it is stored with the UPID, so polls,
  stops and a resumed worker ask that cluster (a cross-cluster copy's source task).
- ``StepResult.wait(message, after=seconds)``: something outside the engine must happen
  first (policy applying a quarantine); looks again later, not counted as an attempt.
- ``StepResult.retry(message, after=seconds)``: nothing was changed in Proxmox (e.g. a lock,
  a stale digest, an unreachable cluster); the step goes back to pending and runs again
  later, at most ``MAX_STEP_ATTEMPTS`` times.
- ``StepResult.skipped(message)``: nothing to do (already in the wanted state).
- ``StepResult.failed(message)``: the request ends failed with this message; an admin may
  retry from this step or cancel.

Exactly-once: the engine (``runner``) commits the step as ``running`` before calling the
step function. ``atomic=True`` steps (database-only work, e.g. ownership changes) run
inside the transaction that marks them done, so a crash rolls them back entirely. A
Proxmox step found ``running`` with no UPID after its lease expired (the worker died
mid-call) is recovered, not blindly re-run: if it declares ``task_types`` the engine looks
for a task of those types on the guest's vmid started since the claim and adopts its UPID;
otherwise the step must be level-triggered (read first, do nothing if already done), and
``recover`` (if given) decides from Proxmox state whether it took effect.

Cancel: an admin's cancel (``services.executions.execution_cancel``) is honoured between
steps; a step whose task runs is recorded when it ends, and a step declared ``abortable``
has its task stopped (``DELETE /nodes/{node}/tasks/{upid}``) at the next poll.

Raised ``ProxmoxError``s are mapped by the engine: transient -> retry, not found /
permission denied / invalid -> failed.

Celery: ``governance.approvals.tasks.execution_advance(execution_id)`` advances an
execution by one step or one poll and re-queues itself; ``executions_resume`` (beat)
re-queues executions whose ``next_run_at`` is overdue.
"""
