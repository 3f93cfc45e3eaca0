"""Shared by the per-rule end-to-end tests: policies scoped to the guests a test changes,
the Celery queue captured instead of sent, every Proxmox write counted, and the queued
remediations driven to their end the way the Celery task would."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from inventory.models import VirtualMachine
from inventory.proxmox import ProxmoxGateway
from policy.models import ACTIVE_REMEDIATION_STATES, Policy, Remediation, Violation
from tests.policy.enforce.helpers import Synced, run_to_end

WRITES = ("PUT", "POST", "DELETE")


@dataclass
class Recorder:
    """What the policy engine asked of Celery and of Proxmox during a test."""

    queued: list[tuple[int, float]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Capture remediation steps queued on Celery and count every gateway write call
    (any gateway instance: the sync's, the runner's, the test's)."""
    from policy.tasks import remediation_run

    seen = Recorder()
    monkeypatch.setattr(
        remediation_run,
        "apply_async",
        lambda args, countdown=0, **_: seen.queued.append((args[0], countdown)),
    )
    monkeypatch.setattr(remediation_run, "delay", lambda rid: seen.queued.append((rid, 0)))
    real_call = ProxmoxGateway._call

    def counting(
        self: ProxmoxGateway, method: str, api_path: str, /, *rest: Any, **params: Any
    ) -> Any:
        if method in WRITES:
            seen.writes.append((method, api_path))
        return real_call(self, method, api_path, *rest, **params)

    monkeypatch.setattr(ProxmoxGateway, "_call", counting)
    return seen


def policy_on(
    kind: str, vms: list[VirtualMachine], *, mode: str = "enforce", **parameters: Any
) -> Policy:
    """An enabled policy whose scope is exactly ``vms`` (other guests stay untouched)."""
    now = timezone.now()
    return Policy.objects.create(
        name=f"{kind}-{Policy.objects.count() + 1}",
        kind=kind,
        scope={"vms": [vm.pk for vm in vms]},
        parameters=parameters,
        mode=mode,
        created_at=now,
        updated_at=now,
    )


def open_violation(vm: VirtualMachine, rule_key: str) -> Violation:
    return Violation.objects.get(vm=vm, rule_key=rule_key, resolved_at__isnull=True)


def drain(synced: Synced, *, sim_seconds: float = 600) -> list[Remediation]:
    """Run every active remediation to its end; returns them, refreshed, oldest first."""
    active = list(
        Remediation.objects.filter(state__in=ACTIVE_REMEDIATION_STATES, dry_run=False).order_by(
            "pk"
        )
    )
    for remediation in active:
        run_to_end(synced, remediation, sim_seconds=sim_seconds)
        remediation.refresh_from_db()
    return active


def cycle(synced: Synced) -> list[Remediation]:
    """One sync (which reconciles through ``sync_finished``) and the remediations it
    planned, run to their end."""
    synced.sync()
    return drain(synced)


class Clock:
    """Django's ``timezone.now`` and pvesim's clock, moved together."""

    def __init__(self, synced: Synced, monkeypatch: pytest.MonkeyPatch) -> None:
        import time

        self.synced = synced
        # Start where the simulator is, so ages seen by Steward match Proxmox's.
        self.offset = synced.sim.cluster.now() - time.time()
        real_now = timezone.now

        def now() -> Any:
            return real_now() + timedelta(seconds=self.offset)

        monkeypatch.setattr(timezone, "now", now)

    def advance(self, *, days: float = 0, seconds: float = 0) -> None:
        step = days * 86400 + seconds
        self.synced.sim.advance(step)
        self.offset += step


def vzdump(synced: Synced, guest: Any, storage: str) -> str:
    """A backup an admin starts by hand (as root, out of band); the finished volid."""
    upid = synced.sim.api(
        "POST", f"/nodes/{guest.node}/vzdump", data={"vmid": guest.vmid, "storage": storage}
    ).json()["data"]
    synced.sim.advance(3600)
    assert synced.gateway.task_status(upid).ok
    content = synced.gateway.storage_content(node=guest.node, storage=storage)
    return max(v.volid for v in content if v.content == "backup" and v.vmid == guest.vmid)
