"""After each sync: ask the guest agents of running VMs which OS they run (``get-osinfo``).

Cost is what decides when a guest is asked; at 10,000 guests a steady cycle should ask
almost none. A running QEMU guest (not a template) whose config enables the agent is
read when Steward does not know its OS yet, when it was (re)started since the last
attempt (``/cluster/resources`` uptime or ``last_running``), or when the last read is
a day old. An agent that does not answer (not running yet, not installed, timeout) is
normal: the values last read stay, and the next attempt waits 5 minutes, then 10, 20...
up to a day, so a guest without an agent costs about one call a day. A cycle reads at
most ``MAX_READS`` agents and stops after ``BUDGET`` of wall time (PVE waits up to
seconds for an agent that is not there); the rest waits for the next cycle, never-read
guests first. Nothing here makes a sync fail or partial.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from governance.audit.services import audit_record
from inventory.models import GuestOsInfo, VirtualMachine
from inventory.proxmox import (
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxGateway,
    ProxmoxPermissionDenied,
    ProxmoxTLSError,
    ProxmoxUnreachable,
)
from inventory.proxmox.agent import OsInfo
from inventory.proxmox.types import GuestEntry

logger = logging.getLogger(__name__)

MAX_AGE = timedelta(days=1)
FIRST_RETRY = timedelta(minutes=5)
MAX_READS = 500
BUDGET = 30.0  # seconds of agent reads per cycle
_TRANSPORT_FAILURES_TOLERATED = 3
_FIELDS = ("os_id", "name", "version_id", "pretty_name", "kernel_release", "machine")


@dataclass(frozen=True)
class Candidate:
    """A running, agent-enabled VM and what Steward knows of its OS reads."""

    vm_id: int
    vmid: int
    node: str
    started_at: datetime | None
    checked_at: datetime | None = None
    read_at: datetime | None = None
    failures: int = 0


def retry_after(failures: int) -> timedelta:
    """How long after an attempt the next one waits: a day after a success, doubling
    from ``FIRST_RETRY`` after failures."""
    if failures <= 0:
        return MAX_AGE
    return min(MAX_AGE, FIRST_RETRY * 2 ** min(failures - 1, 16))


def select_osinfo_reads(
    candidates: Iterable[Candidate], *, now: datetime, limit: int = MAX_READS
) -> list[Candidate]:
    """The guests to ask this cycle (pure), never-asked first, then restarted, then oldest."""
    due: list[tuple[int, datetime, Candidate]] = []
    for c in candidates:
        if c.checked_at is None:
            due.append((0, now, c))
        elif c.started_at is not None and c.started_at > c.checked_at:
            due.append((1, c.checked_at, c))
        elif now - c.checked_at >= retry_after(c.failures):
            due.append((2, c.checked_at, c))
    due.sort(key=lambda item: (item[0], item[1], item[2].vmid))
    return [c for _, _, c in due[:limit]]


def osinfo_candidates(
    *, cluster_id: int, guests: Mapping[int, GuestEntry] | None, online: set[str], now: datetime
) -> list[Candidate]:
    """Running agent-enabled VMs of the cluster on online nodes, as stored after the apply."""
    rows = VirtualMachine.objects.filter(
        cluster_id=cluster_id,
        gone_since__isnull=True,
        kind="qemu",
        template=False,
        agent_enabled=True,
        status="running",
    ).values_list(
        "id",
        "vmid",
        "node__name",
        "last_running",
        "osinfo__checked_at",
        "osinfo__read_at",
        "osinfo__failures",
    )
    found = []
    for vm_id, vmid, node, last_running, checked_at, read_at, failures in rows.iterator(
        chunk_size=2000
    ):
        entry = (guests or {}).get(vmid)
        # Either signal tells a (re)start: PVE's uptime catches a stop and start between
        # two cycles, ``last_running`` a guest the previous cycle saw stopped.
        started = last_running
        if entry is not None:
            node = entry.node
            if entry.uptime:
                booted = now - timedelta(seconds=entry.uptime)
                started = max(started, booted) if started else booted
        if node not in online:
            continue
        found.append(Candidate(vm_id, vmid, node, started, checked_at, read_at, failures or 0))
    return found


def osinfo_sync(
    gateway: ProxmoxGateway,
    *,
    cluster_id: int,
    guests: Iterable[GuestEntry] | None,
    online: set[str],
    now: datetime,
) -> dict[str, int]:
    """Read the agents due this cycle and store what they said; the counts for the run."""
    by_vmid = {g.vmid: g for g in guests} if guests is not None else None
    candidates = osinfo_candidates(cluster_id=cluster_id, guests=by_vmid, online=online, now=now)
    chosen = select_osinfo_reads(candidates, now=now)
    answers, failures, stopped = _read(gateway, chosen)
    _store(chosen, answers, failures, now=now)
    return {
        "osinfo_due": len(chosen),
        "osinfo_read": len(answers),
        "osinfo_failed": len(failures),
        "osinfo_not_tried": stopped,
    }


def _read(
    gateway: ProxmoxGateway, chosen: list[Candidate]
) -> tuple[dict[int, OsInfo], dict[int, str], int]:
    """Ask each chosen agent on a small pool; stops early on a refused token, a dead
    cluster or the time budget (the guests left are not marked as tried)."""
    answers: dict[int, OsInfo] = {}
    failures: dict[int, str] = {}
    deadline = time.monotonic() + BUDGET
    halt: list[str] = []
    transport: list[str] = []

    def one(c: Candidate) -> None:
        if halt or time.monotonic() > deadline:
            return
        try:
            answers[c.vm_id] = gateway.agent_osinfo(node=c.node, vmid=c.vmid)
        except ProxmoxError as exc:
            failures[c.vm_id] = str(exc)[:300]
            if isinstance(exc, ProxmoxAuthError | ProxmoxTLSError | ProxmoxPermissionDenied):
                halt.append(str(exc))
            elif isinstance(exc, ProxmoxUnreachable):
                transport.append(str(exc))
                if len(transport) >= _TRANSPORT_FAILURES_TOLERATED:
                    halt.append(str(exc))

    workers = max(1, min(gateway.endpoint.max_concurrency, 4))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="osinfo") as pool:
        list(pool.map(one, chosen))
    if halt:
        logger.info("sync %s: agent reads stopped: %s", gateway.endpoint.key, halt[0])
    return answers, failures, len(chosen) - len(answers) - len(failures)


def _store(
    chosen: list[Candidate], answers: dict[int, OsInfo], failures: dict[int, str], *, now: datetime
) -> None:
    """Create or update one row per guest asked; a changed OS of a known guest is audited."""
    asked = {c.vm_id: c for c in chosen if c.vm_id in answers or c.vm_id in failures}
    if not asked:
        return
    with transaction.atomic():
        rows = GuestOsInfo.objects.select_for_update().in_bulk(list(asked), field_name="vm_id")
        create, update = [], []
        for vm_id in asked:
            row = rows.get(vm_id) or GuestOsInfo(vm_id=vm_id)
            info = answers.get(vm_id)
            if info is None:
                row.checked_at, row.failures = now, row.failures + 1
                row.error = failures[vm_id]
            else:
                before = {f: getattr(row, f) for f in _FIELDS}
                after = {f: getattr(info, f) for f in _FIELDS}
                if row.read_at is not None and before["pretty_name"] != after["pretty_name"]:
                    _audit_change(vm_id, before, after)
                for name, value in after.items():
                    setattr(row, name, value)
                row.read_at = row.checked_at = now
                row.failures, row.error = 0, ""
            (update if row.pk else create).append(row)
        GuestOsInfo.objects.bulk_create(create, batch_size=1000)
        GuestOsInfo.objects.bulk_update(
            update, [*_FIELDS, "read_at", "checked_at", "failures", "error"], batch_size=1000
        )


def _audit_change(vm_id: int, before: dict[str, str], after: dict[str, str]) -> None:
    vm = VirtualMachine.objects.only("id", "vmid", "name", "cluster_id").get(pk=vm_id)
    audit_record(
        actor=None,
        action="inventory.guest_os_changed",
        target=vm,
        before={"os": before["pretty_name"], "version_id": before["version_id"]},
        after={"os": after["pretty_name"], "version_id": after["version_id"]},
    )
