"""What every executor gets and gives back.

An executor brings one thing in Proxmox to the state its action asks for. It is
level-triggered: it reads the current state first and does nothing when the state is
already right (``Outcome.done`` with "already ..."), so running it again after a crash or
a retry is harmless. Every guest-config write uses the digest of the config it just read,
so a change an admin makes between our read and our write fails (``ProxmoxDigestMismatch``)
and the runner retries later instead of overwriting it.

Executors return quickly: a Proxmox task is started and its UPID returned
(``Outcome.started``); the runner polls it from later steps and then calls the
executor's ``verify``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from inventory.proxmox import ProxmoxGateway


class OutcomeKind(StrEnum):
    DONE = "done"
    STARTED = "started"
    RETRY = "retry"
    NOT_POSSIBLE = "not_possible"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """The result of one executor call; ``message`` goes to the remediation's log."""

    kind: OutcomeKind
    message: str
    upid: str = ""
    #: Facts the executor wants kept on the remediation (merged into ``params``).
    remember: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def done(cls, message: str, **remember: Any) -> Outcome:
        return cls(OutcomeKind.DONE, message, remember=remember)

    @classmethod
    def started(cls, upid: str, message: str, **remember: Any) -> Outcome:
        return cls(OutcomeKind.STARTED, message, upid=upid, remember=remember)

    @classmethod
    def retry(cls, message: str) -> Outcome:
        return cls(OutcomeKind.RETRY, message)

    @classmethod
    def not_possible(cls, message: str) -> Outcome:
        return cls(OutcomeKind.NOT_POSSIBLE, message)

    @classmethod
    def failed(cls, message: str) -> Outcome:
        return cls(OutcomeKind.FAILED, message)


@dataclass(frozen=True)
class Target:
    """Where an action applies, as Steward last saw it (the sync keeps ``node`` fresh)."""

    cluster_id: int
    pve_major: int
    vm_id: int | None = None
    vmid: int | None = None
    kind: str = "qemu"
    node: str = ""

    def guest(self) -> dict[str, Any]:
        """Keyword arguments naming the guest for gateway calls."""
        if self.vmid is None or not self.node:
            raise ValueError("this action needs a guest")
        return {"node": self.node, "kind": self.kind, "vmid": self.vmid}

    @property
    def sid(self) -> str:
        return f"{'vm' if self.kind == 'qemu' else 'ct'}:{self.vmid}"


@dataclass(frozen=True)
class Context:
    """One executor call: the gateway, the target, the action's parameters."""

    gateway: ProxmoxGateway
    target: Target
    params: Mapping[str, Any]
    remediation_id: int


@dataclass(frozen=True)
class Executor:
    """``run`` starts or performs the action; ``verify`` (optional) checks it took effect
    after its Proxmox task ended OK, returning ``done`` or ``failed``."""

    run: Callable[[Context], Outcome]
    verify: Callable[[Context], Outcome] | None = None


EXECUTORS: dict[str, Executor] = {}


def executor(
    kind: str, *, verify: Callable[[Context], Outcome] | None = None
) -> Callable[[Callable[[Context], Outcome]], Callable[[Context], Outcome]]:
    """Register ``fn`` as the executor of action ``kind``."""

    def register(fn: Callable[[Context], Outcome]) -> Callable[[Context], Outcome]:
        EXECUTORS[kind] = Executor(run=fn, verify=verify)
        return fn

    return register
