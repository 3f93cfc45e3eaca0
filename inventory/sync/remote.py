"""Load remote: read one cluster into a ``RemoteState`` at a cost that does not grow with guests.

Per cycle the loader makes one ``/version``, one ``/cluster/resources`` and one
``/cluster/tasks`` read, one content listing per storage (per node for node-local
storage), and one read each of backup jobs, HA resources, HA rules (PVE 9) or groups
(PVE 8) and the ACL. Per-guest reads (config, and the snapshot list when the config
digest moved) happen only for guests that :func:`select_config_reads` picks: new ones,
ones whose node/status/tags/lock/template changed, ones a new task names, and a rolling
share of the oldest configs so that none is older than ``max_config_age``.

Failure never shrinks what Steward knows: a part that failed is left ``None`` (or absent
from the per-guest/per-storage mappings) with a sentence in ``errors``; see
:mod:`inventory.sync.state`. A guest whose own read fails (typically 404 because it was
just destroyed or migrated) is simply not re-read this cycle.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from inventory.parsing import config_facts
from inventory.proxmox import (
    ProxmoxAuthError,
    ProxmoxError,
    ProxmoxGateway,
    ProxmoxNotFound,
    ProxmoxPermissionDenied,
    ProxmoxTLSError,
    ProxmoxUnreachable,
)
from inventory.proxmox.types import GuestEntry, Resources, StorageEntry, Task
from inventory.sync.history import MIGRATE_TYPES
from inventory.sync.state import (
    Absence,
    ConfigFacts,
    LocalGuest,
    LocalState,
    LocalTask,
    RemoteState,
    Snapshot,
    StorageRef,
    Volume,
)

logger = logging.getLogger(__name__)
F = TypeVar("F")

#: ``progress(step, done, total)``: step is "configs", "absent" or "storage" while reading.
Progress = Callable[[str, int, int], None]
#: Given the UPIDs the cluster listed, the ones Steward already stored (``with_tasks``).
KnownTasks = Callable[[Iterable[str]], Mapping[str, LocalTask]]

MAX_CONFIG_AGE = timedelta(hours=1)
# Content types whose volumes Steward records (copies, disks, CD-ROM media).
_CONTENT = frozenset({"images", "rootdir", "backup", "iso", "import"})
# Per-guest reads stop after this many transport failures: the cluster is in trouble and
# waiting out a timeout per guest would hold the worker for hours.
_TRANSPORT_FAILURES_TOLERATED = 3


@dataclass(frozen=True)
class ReadPlan:
    """Which guests get their config re-read this cycle, and why (for the run's stats)."""

    guests: tuple[GuestEntry, ...]
    reasons: Mapping[str, int]
    skipped: tuple[str, ...] = ()


def select_config_reads(
    *,
    local: LocalState,
    guests: Iterable[GuestEntry],
    online_nodes: set[str],
    touched_vmids: set[int],
    now: datetime,
    full: bool = False,
    cycle: timedelta = timedelta(seconds=60),
    max_age: timedelta = MAX_CONFIG_AGE,
) -> ReadPlan:
    """Pick the guests whose config to read (pure).

    Guests on offline nodes are never picked (PVE cannot proxy to them); a vmid listed
    twice (mid-migration) is skipped with a note, its node being ambiguous. The rolling
    share is ``ceil(live guests * cycle / max_age)`` of the oldest remaining configs plus
    every config already older than ``max_age``, so a config is re-read at least once
    per ``max_age`` while a cycle costs the same whatever else happened.
    """
    counts = Counter(g.vmid for g in guests)
    picked: dict[int, GuestEntry] = {}
    reasons: Counter[str] = Counter()
    skipped: list[str] = []
    candidates: list[GuestEntry] = []
    for entry in guests:
        if counts[entry.vmid] > 1:
            continue
        if entry.node not in online_nodes:
            continue
        known = local.guests.get(entry.vmid)
        if full:
            reason = "full"
        elif known is None or known.kind != entry.kind:
            reason = "new"
        elif (known.node, known.status, known.tags, known.lock, known.template) != (
            entry.node,
            entry.status,
            entry.tags,
            entry.lock,
            entry.template,
        ):
            reason = "changed"
        elif entry.vmid in touched_vmids:
            reason = "task"
        elif known.config_read_at is None or not known.config_digest:
            reason = "unread"
        else:
            candidates.append(entry)
            continue
        picked[entry.vmid] = entry
        reasons[reason] += 1
    for vmid in sorted(v for v, n in counts.items() if n > 1):
        nodes = sorted(g.node for g in guests if g.vmid == vmid)
        skipped.append(
            f"vmid {vmid} is listed {counts[vmid]} times (nodes {', '.join(nodes)}), "
            "probably mid-migration; its config was not re-read this cycle"
        )
    if candidates:
        share = math.ceil(len(counts) * cycle / max_age)
        candidates.sort(key=lambda e: local.guests[e.vmid].config_read_at or now)
        stale_before = now - max_age + cycle
        for index, entry in enumerate(candidates):
            read_at = local.guests[entry.vmid].config_read_at or now
            if index >= share and read_at > stale_before:
                break
            picked[entry.vmid] = entry
            reasons["rolling"] += 1
    return ReadPlan(tuple(picked.values()), dict(reasons), tuple(skipped))


def touched_by_tasks(tasks: Iterable[Task], known: Mapping[str, LocalTask]) -> set[int]:
    """Vmids named by tasks Steward has not stored yet, or that finished since it did."""
    touched = set()
    for task in tasks:
        stored = known.get(task.upid)
        if stored is not None and (stored.finished or task.running):
            continue
        if task.id.isdigit():
            touched.add(int(task.id))
    return touched


def load_remote(
    gateway: ProxmoxGateway,
    *,
    local: LocalState,
    now: datetime,
    full: bool = False,
    progress: Progress | None = None,
    known_tasks: KnownTasks | None = None,
    cycle: timedelta = timedelta(seconds=60),
    max_config_age: timedelta = MAX_CONFIG_AGE,
) -> RemoteState:
    """Read one cluster (see the module docstring); never raises a ``ProxmoxError``.

    ``known_tasks`` looks up which listed UPIDs are already stored; without it the
    loader uses ``local.tasks``. ``cycle`` is the sync interval, which sizes the rolling
    re-read share.
    """
    calls_before = dict(gateway.calls)
    reader = _Reader(gateway, progress=progress)
    state: dict[str, Any] = {"read_at": now}

    version = reader.read("the version", gateway.version)
    if version is None:
        return reader.finish(state, calls_before)
    state["version"] = version.version
    resources: Resources | None = reader.read("guests, nodes and storage", gateway.resources)
    if resources is None:
        return reader.finish(state, calls_before)
    if not resources.guests and local.guests:
        # A token that lost VM.Audit gets 200 with no guests, not an error.
        reader.error(
            f"the cluster listed no guests while Steward knows {len(local.guests)}; "
            "the API token has probably lost its rights (it needs PVEAuditor on /). "
            "Nothing was marked gone."
        )
    else:
        state["guests"] = resources.guests
    state.update(nodes=resources.nodes, storages=resources.storages, pools=resources.pools)
    online = {n.name for n in resources.nodes if n.status == "online"}

    tasks = reader.read("the task history", gateway.tasks)
    touched: set[int] = set()
    migrated: set[int] = set()
    if tasks is not None:
        state["tasks"] = tuple(tasks)
        known = known_tasks([t.upid for t in tasks]) if known_tasks else local.tasks
        touched = touched_by_tasks(tasks, known)
        migrated = touched_by_tasks([t for t in tasks if t.type in MIGRATE_TYPES], known)

    if "guests" in state:
        listed = {g.vmid for g in resources.guests}
        missing = [g for vmid, g in local.guests.items() if vmid not in listed]
        state["absent"] = reader.absent(missing, online=online, migrated=migrated)

    if "guests" in state:
        plan = select_config_reads(
            local=local,
            guests=resources.guests,
            online_nodes=online,
            touched_vmids=touched,
            now=now,
            full=full,
            cycle=cycle,
            max_age=max_config_age,
        )
        for note in plan.skipped:
            reader.error(note)
        configs, snapshots = reader.guests(plan.guests, local=local, now=now, full=full)
        state.update(configs=configs, snapshots=snapshots)
    state["volumes"] = reader.storage(resources.storages, online)

    state["backup_jobs"] = reader.facts("backup jobs", gateway.backup_jobs)
    state["ha_resources"] = reader.facts("HA resources", gateway.ha_resources)
    if version.major >= 9:
        state["ha_rules"] = reader.facts("HA rules", gateway.ha_rules)
    else:
        state["ha_groups"] = reader.facts("HA groups", gateway.ha_groups)
    state["acl"] = reader.facts("ACL entries", gateway.acl)
    return reader.finish(state, calls_before)


class _Reader:
    """Runs the reads of one cycle and collects their errors; not reused across cycles."""

    def __init__(self, gateway: ProxmoxGateway, *, progress: Progress | None) -> None:
        self.gateway = gateway
        self.progress = progress
        self.errors: list[str] = []
        self.workers = max(1, min(gateway.endpoint.max_concurrency, 4))

    def error(self, message: str) -> None:
        logger.warning("sync %s: %s", self.gateway.endpoint.key, message)
        self.errors.append(message)

    def read(self, what: str, call: Callable[[], F]) -> F | None:
        try:
            return call()
        except ProxmoxError as exc:
            self.error(f"could not read {what}: {_describe(exc)}")
            return None

    def facts(self, what: str, call: Callable[[], list[F]]) -> tuple[F, ...] | None:
        items = self.read(what, call)
        return None if items is None else tuple(items)

    def finish(self, state: dict[str, Any], calls_before: Mapping[str, int]) -> RemoteState:
        calls = {
            key: count - calls_before.get(key, 0)
            for key, count in self.gateway.calls.items()
            if count - calls_before.get(key, 0)
        }
        return RemoteState(errors=tuple(self.errors), calls=calls, **state)

    # ---- per-guest reads -----------------------------------------------------------

    def absent(
        self, missing: list[LocalGuest], *, online: set[str], migrated: set[int]
    ) -> dict[int, Absence]:
        """Confirm each known guest the list left out with one read on its last node.

        "Does not exist" confirms it gone; 403 means the token lost its rights on it (PVE
        filters such guests out of ``/cluster/resources`` without an error); a guest whose
        node is offline, that a new migrate task names, or whose read failed is unknown.
        One call per missing guest, none when the list has everything.
        """
        verdicts: dict[int, Absence] = {}
        probe = []
        for guest in missing:
            if guest.node in online and guest.vmid not in migrated:
                probe.append(guest)
            else:
                verdicts[guest.vmid] = Absence.UNKNOWN

        def read_one(guest: LocalGuest) -> None:
            try:
                self.gateway.guest_status(node=guest.node, kind=guest.kind, vmid=guest.vmid)
            except ProxmoxNotFound:
                verdicts[guest.vmid] = Absence.GONE
            except ProxmoxPermissionDenied:
                verdicts[guest.vmid] = Absence.DENIED
            else:  # it exists where Steward last saw it, yet the list left it out
                verdicts[guest.vmid] = Absence.UNKNOWN

        failures = self._run("absent", tuple(probe), read_one, label=lambda g: f"guest {g.vmid}")
        for guest in missing:
            verdicts.setdefault(guest.vmid, Absence.UNKNOWN)
        denied = sorted(v for v, verdict in verdicts.items() if verdict == Absence.DENIED)
        unknown = sorted(v for v, verdict in verdicts.items() if verdict == Absence.UNKNOWN)
        if denied:
            self.error(
                f"{len(denied)} known guests are no longer listed and the API token may not "
                f"read them (HTTP 403): it has lost its rights on part of the estate "
                f"(vmids {_vmids(denied)}); they were not marked gone"
            )
        if unknown:
            self.error(
                f"{len(unknown)} known guests are no longer listed but could not be confirmed "
                f"gone (node offline, migrating, or the read failed: vmids {_vmids(unknown)})"
                + (f"; {failures}" if failures else "")
                + "; they were not marked gone"
            )
        return verdicts

    def guests(
        self, entries: tuple[GuestEntry, ...], *, local: LocalState, now: datetime, full: bool
    ) -> tuple[dict[int, ConfigFacts], dict[int, tuple[Snapshot, ...]]]:
        configs: dict[int, ConfigFacts] = {}
        snapshots: dict[int, tuple[Snapshot, ...]] = {}

        def read_one(entry: GuestEntry) -> None:
            ref = {"node": entry.node, "kind": entry.kind, "vmid": entry.vmid}
            config = self.gateway.guest_config(**ref)
            facts = config_facts(
                vmid=entry.vmid,
                kind=entry.kind,
                digest=config.digest,
                values=config.values,
                read_at=now,
            )
            known = local.guests.get(entry.vmid)
            # Taking or deleting a snapshot rewrites the config file, so its digest moves.
            if full or known is None or known.config_digest != config.digest:
                snapshots[entry.vmid] = tuple(self.gateway.snapshots(**ref))
            configs[entry.vmid] = facts

        failures = self._run("configs", entries, read_one, label=lambda e: f"guest {e.vmid}")
        if failures:
            self.error(failures)
        return configs, snapshots

    def storage(
        self, entries: tuple[StorageEntry, ...], online: set[str]
    ) -> dict[StorageRef, tuple[Volume, ...]]:
        """One listing per shared storage (from an online node) and per node-local storage."""
        targets: dict[StorageRef, str] = {}
        for entry in sorted(entries, key=lambda e: (e.storage, e.node)):
            if entry.node not in online or entry.status != "available":
                continue
            if not _CONTENT.intersection(entry.content):
                continue
            ref = StorageRef(entry.storage, "" if entry.shared else entry.node)
            targets.setdefault(ref, entry.node)
        volumes: dict[StorageRef, tuple[Volume, ...]] = {}

        def read_one(ref: StorageRef) -> None:
            items = self.gateway.storage_content(node=targets[ref], storage=ref.storage)
            volumes[ref] = tuple(items)

        failures = self._run(
            "storage", tuple(targets), read_one, label=lambda r: f"storage {r.storage}"
        )
        if failures:
            self.error(failures)
        return volumes

    def _run(
        self,
        step: str,
        items: tuple[Any, ...],
        work: Callable[[Any], None],
        *,
        label: Callable[[Any], str],
    ) -> str:
        """Run ``work`` over ``items`` on a small pool; returns a summary of failures.

        A 404-like answer means the object moved or vanished since ``/cluster/resources``
        was read: it is not re-read, and not an error. Authentication or TLS failures and
        repeated transport failures stop the remaining reads.
        """
        if not items:
            return ""
        failed: list[str] = []
        transport = 0
        stopped = ""
        done = 0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sync") as pool:
            pending: dict[Future[None], Any] = {}
            queue = iter(items)
            for item in queue:
                pending[pool.submit(work, item)] = item
                if len(pending) >= self.workers * 2:
                    break
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = pending.pop(future)
                    done += 1
                    exc = future.exception()
                    if isinstance(exc, ProxmoxNotFound):
                        logger.info("sync %s: %s vanished mid-cycle", step, label(item))
                    elif isinstance(exc, ProxmoxError):
                        failed.append(f"{label(item)}: {_describe(exc)}")
                        if isinstance(exc, ProxmoxAuthError | ProxmoxTLSError):
                            stopped = stopped or _describe(exc)
                        elif isinstance(exc, ProxmoxUnreachable):
                            transport += 1
                            if transport >= _TRANSPORT_FAILURES_TOLERATED:
                                stopped = stopped or "the cluster stopped answering"
                    elif exc is not None:
                        raise exc
                if self.progress:
                    self.progress(step, done, len(items))
                if not stopped:
                    for item in queue:
                        pending[pool.submit(work, item)] = item
                        if len(pending) >= self.workers * 2:
                            break
        if not failed:
            return ""
        noun = {"configs": "guest configs", "absent": "guest status reads"}.get(
            step, "storage listings"
        )
        summary = f"{len(failed)} {noun} could not be read ({'; '.join(failed[:3])}"
        summary += f"; and {len(failed) - 3} more)" if len(failed) > 3 else ")"
        if stopped:
            left = len(items) - done
            summary += f"; stopped reading {left} more after: {stopped}"
        return summary


def _vmids(vmids: list[int], shown: int = 20) -> str:
    text = ", ".join(map(str, vmids[:shown]))
    return text + (f" and {len(vmids) - shown} more" if len(vmids) > shown else "")


def _describe(exc: ProxmoxError) -> str:
    status = f"HTTP {exc.status}: " if exc.status else ""
    return f"{status}{exc}"
