"""The reads of one sync cycle, run on a small thread pool, with their errors in words.

Used by :func:`inventory.sync.remote.load_remote`; a failed read leaves its part out of
the ``RemoteState`` (see :mod:`inventory.sync.state`) and adds a sentence to ``errors``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
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
from inventory.proxmox.types import GuestEntry, StorageEntry
from inventory.sync.state import (
    Absence,
    ConfigFacts,
    LocalGuest,
    LocalState,
    RemoteState,
    Snapshot,
    StorageRef,
    Volume,
)

logger = logging.getLogger(__name__)
F = TypeVar("F")

#: ``progress(step, done, total)``: step is "configs", "absent" or "storage" while reading.
Progress = Callable[[str, int, int], None]

# Content types whose volumes Steward records (copies, disks, CD-ROM media).
_CONTENT = frozenset({"images", "rootdir", "backup", "iso", "import"})
# Per-guest reads stop after this many transport failures: the cluster is in trouble and
# waiting out a timeout per guest would hold the worker for hours.
_TRANSPORT_FAILURES_TOLERATED = 3


class Reader:
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
            # What is in effect: PVE would otherwise show pending changes as applied.
            config = self.gateway.guest_config(**ref, current=True)
            facts = config_facts(
                vmid=entry.vmid,
                kind=entry.kind,
                digest=config.digest,
                values=config.values,
                read_at=now,
            )
            known = local.guests.get(entry.vmid)
            # Snapshots and pending changes live in the config file: while its digest
            # stays, they do too (the diff only uses them when the digest moved).
            if full or known is None or known.config_digest != config.digest:
                snapshots[entry.vmid] = tuple(self.gateway.snapshots(**ref))
                facts = replace(facts, pending=self.gateway.guest_pending(**ref))
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
