"""Shared by the enforcement tests: a synced pvesim cluster with a write token, and
violations/remediations made the way the reconciler makes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from inventory.models import Cluster, Storage, StorageClass, VirtualMachine
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
from inventory.sync.service import cluster_sync
from policy.models import Policy, Remediation, Violation
from policy.remediation import Step, remediation_step
from pvesim.model import Guest
from pvesim.testing import RunningSim


@dataclass
class Synced:
    sim: RunningSim
    cluster: Cluster
    gateway: ProxmoxGateway

    def sync(self) -> None:
        run = cluster_sync(cluster_id=self.cluster.pk, full=True)
        assert run is not None
        assert run.status in ("ok", "partial"), run.error

    def vm(self, vmid: int) -> VirtualMachine:
        return VirtualMachine.objects.select_related("node").get(
            cluster=self.cluster, vmid=vmid, gone_since__isnull=True
        )

    def guest(self, predicate: Callable[[Guest], bool]) -> Guest:
        """A guest HA does not manage (HA would move it on its own) matching ``predicate``."""
        estate = self.sim.cluster.estate
        managed = estate.ha_resources
        return next(
            g
            for g in estate.guests.values()
            if predicate(g) and f"vm:{g.vmid}" not in managed and f"ct:{g.vmid}" not in managed
        )


def storages_approve(synced: Synced, *, removable: tuple[str, ...] = ()) -> None:
    """Class every storage of the cluster approved, but those named in ``removable`` (a USB
    disk, say), as an admin would before a removable-media rule can tell them apart."""
    storages = Storage.objects.filter(cluster=synced.cluster)
    storages.update(storage_class=StorageClass.APPROVED)
    storages.filter(name__in=removable).update(storage_class=StorageClass.REMOVABLE)


def plain_qemu(guest: Guest) -> bool:
    return guest.kind == "qemu" and not guest.config.get("template")


def policy_make(kind: str, *, mode: str = "enforce", **parameters: Any) -> Policy:
    """A policy over every registered cluster."""
    now = timezone.now()
    return Policy.objects.create(
        name=f"{kind}-{Policy.objects.count() + 1}",
        kind=kind,
        scope={"clusters": list(Cluster.objects.values_list("name", flat=True))},
        parameters=parameters,
        mode=mode,
        created_at=now,
        updated_at=now,
    )


def remediation_make(
    synced: Synced,
    vm: VirtualMachine | None,
    action: str,
    *,
    policy: Policy | None = None,
    rule_key: str = "k",
    **params: Any,
) -> Remediation:
    """A violation and its pending remediation, as the reconciler records them."""
    now = timezone.now()
    policy = policy or policy_make("no_removable_media")
    violation = Violation.objects.create(
        policy=policy,
        cluster=synced.cluster,
        vm=vm,
        rule_key=rule_key,
        summary="test",
        first_detected=now,
        last_seen=now,
    )
    return Remediation.objects.create(
        violation=violation,
        cluster=synced.cluster,
        vm=vm,
        action=action,
        params=params,
        created_at=now,
    )


def run_to_end(
    synced: Synced, remediation: Remediation, *, max_steps: int = 20, sim_seconds: float = 600
) -> Step:
    """Step like the Celery task would, moving simulated and wall time as asked."""
    now = timezone.now()
    step = Step("pending", 0)
    for _ in range(max_steps):
        step = remediation_step(remediation_id=remediation.pk, now=now, gateway=synced.gateway)
        if step.again_in is None:
            return step
        synced.sim.advance(sim_seconds)
        now += timedelta(seconds=step.again_in)
    raise AssertionError(f"remediation {remediation.pk} did not end: {step}")


def at(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


def synced_cluster(
    make_sim: Callable[..., RunningSim], cluster_for: Callable, **sim: Any
) -> Synced:
    """A pvesim cluster read and written with root@pam's token, synced once."""
    running = make_sim(identity="root", **sim)
    cluster = cluster_for(running)
    synced = Synced(running, cluster, ProxmoxGateway(cluster_endpoint(cluster)))
    synced.sync()
    cluster.refresh_from_db()
    return synced
