"""The step interface of the execution engine (see the package docstring for usage).

Stable contract for kind authors: ``StepSpec``, ``StepContext``, ``StepResult``, ``kind``,
``KINDS``. The engine (``runner``) is the only code that moves ``ExecutionStep`` states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from governance.approvals.models import Execution, ExecutionStep, Request
from inventory.proxmox import ProxmoxGateway

#: A running Proxmox task is polled after ``POLL_INTERVAL`` seconds, then less often as it
#: runs on (a quarter of its age so far), at most every ``POLL_MAX`` seconds: short tasks
#: finish promptly, long ones (migrations, backups) do not flood the workers.
POLL_INTERVAL = 2.0
POLL_MAX = 15.0
#: Default pause before a retried step runs again.
RETRY_AFTER = 30.0
#: A step retried this often fails the execution.
MAX_STEP_ATTEMPTS = 6
#: Default pause before a waiting step looks again (``StepResult.wait``).
WAIT_AFTER = 10.0


class ResultKind(StrEnum):
    DONE = "done"
    STARTED = "started"
    RETRY = "retry"
    SKIPPED = "skipped"
    FAILED = "failed"
    WAIT = "wait"


@dataclass(frozen=True)
class StepResult:
    """What one call of a step function did; ``message`` goes to the step's log."""

    kind: ResultKind
    message: str
    upid: str = ""
    after: float = 0.0
    remember: Mapping[str, Any] = field(default_factory=dict)
    #: The cluster whose API answers for ``upid`` (None: the step's ``task_cluster``).
    cluster_id: int | None = None

    @classmethod
    def done(cls, message: str, **remember: Any) -> StepResult:
        return cls(ResultKind.DONE, message, remember=remember)

    @classmethod
    def started(
        cls, upid: str, message: str, *, on_cluster: int | None = None, **remember: Any
    ) -> StepResult:
        """A task was started; ``on_cluster`` names its cluster when that is not the
        step's ``task_cluster`` (by default the request's)."""
        if not upid:
            raise ValueError("a started step needs the UPID of its Proxmox task")
        return cls(ResultKind.STARTED, message, upid=upid, remember=remember, cluster_id=on_cluster)

    @classmethod
    def retry(cls, message: str, *, after: float = RETRY_AFTER) -> StepResult:
        return cls(ResultKind.RETRY, message, after=after)

    @classmethod
    def wait(cls, message: str, *, after: float = WAIT_AFTER) -> StepResult:
        """Nothing to do yet: something outside the engine (a policy remediation) has
        to happen first. Not counted as an attempt; the step bounds its own wait."""
        return cls(ResultKind.WAIT, message, after=after)

    @classmethod
    def skipped(cls, message: str, **remember: Any) -> StepResult:
        return cls(ResultKind.SKIPPED, message, remember=remember)

    @classmethod
    def failed(cls, message: str) -> StepResult:
        return cls(ResultKind.FAILED, message)


@dataclass
class StepContext:
    """Everything a step function may use; built fresh for every call.

    ``results`` merges the ``result`` of every earlier step (in order), so a provision's
    "start" step finds the vmid its "clone" step remembered. ``gateway`` talks to the
    request's cluster unless a step asks ``gateway_for(cluster_id)`` for another one.
    """

    request: Request
    execution: Execution
    step: ExecutionStep
    results: dict[str, Any]
    gateway_factory: Callable[[int], ProxmoxGateway]

    @property
    def params(self) -> Mapping[str, Any]:
        return self.request.parameters

    @property
    def cluster_id(self) -> int:
        """The request's cluster (its own, or its VM's)."""
        cluster_id = self.request.cluster_id or (
            self.request.vm.cluster_id if self.request.vm else None
        )
        if cluster_id is None:
            raise ValueError(f"request {self.request.pk} names no cluster")
        return cluster_id

    @cached_property
    def gateway(self) -> ProxmoxGateway:
        return self.gateway_factory(self.cluster_id)

    def gateway_for(self, cluster_id: int) -> ProxmoxGateway:
        return self.gateway_factory(cluster_id)

    def vm_target(self) -> dict[str, Any]:
        """``node``/``kind``/``vmid`` of the request's VM as last synced (gateway kwargs)."""
        vm = self.request.vm
        if vm is None or vm.node_id is None:
            raise ValueError(f"request {self.request.pk} has no placed VM")
        return {"node": vm.node.name, "kind": vm.kind, "vmid": vm.vmid}


StepFunction = Callable[[StepContext], StepResult]


@dataclass(frozen=True)
class StepSpec:
    """One step of a kind.

    ``run`` does the work or starts a Proxmox task. ``verify`` runs after that task ended
    OK (``done``/``failed``). ``atomic`` steps touch only the database and run in the
    transaction that records them. ``task_types`` (e.g. ``("qmigrate",)``) let the engine
    find the task a crashed worker started; ``task_vmid`` picks the vmid to look for from the
    context (default: the request's VM). ``task_cluster`` picks the cluster its tasks run
    on (default: the request's); a ``started`` result may name another. ``recover``
    decides, from Proxmox state, what a step interrupted mid-call achieved
    (``done``/``skipped``), or ``None`` to run it again. ``abortable`` steps have their
    running task stopped when an admin cancels the execution (PVE undoes it cleanly, e.g.
    a migration); others are left to finish.
    """

    name: str
    label: str
    run: StepFunction
    verify: StepFunction | None = None
    atomic: bool = False
    task_types: tuple[str, ...] = ()
    task_vmid: Callable[[StepContext], int | None] | None = None
    task_cluster: Callable[[StepContext], int | None] | None = None
    recover: Callable[[StepContext], StepResult | None] | None = None
    abortable: bool = False

    def cluster_of_tasks(self, ctx: StepContext) -> int:
        """The cluster this step's tasks run on (for recovery lookups and new UPIDs)."""
        chosen = self.task_cluster(ctx) if self.task_cluster else None
        return chosen or ctx.cluster_id


#: The steps of each request kind, in order.
KINDS: dict[str, tuple[StepSpec, ...]] = {}


def kind(name: str, *steps: StepSpec) -> None:
    """Declare the steps of request kind ``name`` (once; names unique within the kind)."""
    if name in KINDS:
        raise ValueError(f"steps of kind {name!r} are already declared")
    names = [step.name for step in steps]
    if not steps or len(set(names)) != len(names):
        raise ValueError(f"kind {name!r} needs steps with unique names, got {names}")
    for step in steps:
        if step.atomic and (step.task_types or step.verify or step.abortable):
            raise ValueError(f"{name}.{step.name}: an atomic step starts no Proxmox task")
    KINDS[name] = tuple(steps)


def steps_of(name: str) -> tuple[StepSpec, ...]:
    """The declared steps of a kind; ``LookupError`` when none are."""
    import governance.approvals.execution.kinds  # noqa: F401 - registers every kind

    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"no execution steps are declared for kind {name!r}") from None
