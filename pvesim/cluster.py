"""One simulated PVE cluster: estate + access + tasks + clock + version profile.

The server holds one :class:`Cluster` per listening port. Everything that reads or writes
cluster state does so under ``cluster.lock`` after calling :meth:`Cluster.tick`, so tasks
whose steps are due have already applied their effects.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pvesim.access import AccessStore, Evaluator
from pvesim.clock import Clock
from pvesim.model import Estate, estate_from_dict, estate_to_dict
from pvesim.tasks import TaskEngine

STATE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class VersionProfile:
    """What differs between PVE releases that clients can observe."""

    key: str
    version: str
    release: str
    repoid: str

    @property
    def major(self) -> int:
        return int(self.release.split(".")[0])

    @property
    def error_message_key(self) -> bool:
        """Error bodies carry ``message`` since libpve-http-server-perl 5.2.0 (PVE 8.3)."""
        major, minor = (int(x) for x in self.release.split(".")[:2])
        return (major, minor) >= (8, 3)

    @property
    def ha_rules(self) -> bool:
        """PVE 9 replaced HA groups by HA rules (groups are migrated and then refused)."""
        return self.major >= 9


PROFILES: dict[str, VersionProfile] = {
    "9": VersionProfile("9", "9.1.9", "9.1", "ee5e3ee5f5ab2ef3"),
    "8": VersionProfile("8", "8.4.14", "8.4", "b502d23c55afcba1"),
    "8.2": VersionProfile("8.2", "8.2.7", "8.2", "3e76eec21c4a14a7"),
}


@dataclass(slots=True)
class ChaosSettings:
    """Knobs the control API turns; read by the server on every request."""

    auth_delay: float = 0.0
    """Seconds to hold auth-layer 401s (PVE: ~3 s; tests want ~0)."""
    latency: float = 0.0
    latency_prefix: str = ""
    error_status: int = 0
    error_message: str = ""
    error_prefix: str = ""
    error_count: int = 0
    """How many more requests under ``error_prefix`` fail (-1: until cleared)."""
    corrupt_mode: str = ""
    """How successful answers under ``corrupt_prefix`` are spoiled (see ``POST corrupt``)."""
    corrupt_prefix: str = ""
    corrupt_count: int = 0
    """How many more answers to spoil (-1: until cleared)."""


class Cluster:
    """A whole simulated cluster.

    Invariants: ``access``/``estate``/``tasks`` are only touched under ``lock``; ``name`` is
    the corosync cluster name shown by ``/cluster/status``.
    """

    def __init__(
        self,
        *,
        name: str,
        estate: Estate | Callable[[], Estate],
        clock: Clock,
        profile: VersionProfile | str = "9",
        access: AccessStore | None = None,
    ) -> None:
        self.name = name
        self._estate = estate if isinstance(estate, Estate) else None
        self._estate_factory = None if isinstance(estate, Estate) else estate
        self._estate_lock = threading.Lock()
        self.clock = clock
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.access = access or AccessStore(major=self.profile.major)
        self.evaluator = Evaluator(self.access, pool_of=self.pool_of_path)
        self.tasks = TaskEngine()
        self.chaos = ChaosSettings()
        self.lock = threading.RLock()
        self.control_key = os.urandom(16).hex()

    @property
    def estate(self) -> Estate:
        """The estate, built on first use when a factory was given (big scenarios start fast)."""
        estate = self._estate
        if estate is None:
            with self._estate_lock:
                if self._estate is None:
                    assert self._estate_factory is not None
                    self._estate = self._estate_factory()
                estate = self._estate
        return estate

    # ---- the clock and tasks -----------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

    def tick(self) -> float:
        """Apply every task step due by now; returns the simulated time used."""
        now = self.clock.now()
        self.tasks.tick(now)
        return now

    # ---- access helpers ----------------------------------------------------------------

    def pool_of_path(self, path: str) -> str | None:
        """The pool whose ACLs the object behind ``path`` inherits (guests and storages)."""
        if path.startswith("/vms/"):
            tail = path[5:]
            guest = self.estate.guests.get(int(tail)) if tail.isdigit() else None
            return guest.pool if guest is not None else None
        if path.startswith("/storage/"):
            storage = path[9:]
            for pool in self.estate.pools.values():
                if storage in pool.storage:
                    return pool.poolid
        return None

    def bootstrap_access(
        self,
        *,
        root_password: str,
        token_name: str = "steward",  # noqa: S107 - a name
    ) -> str:
        """Create root@pam (if absent) and a non-privsep admin token; returns its secret."""
        if "root@pam" not in self.access.users:
            self.access.user_add("root@pam", password=root_password, comment="Superuser")
        full = f"root@pam!{token_name}"
        token = self.access.tokens.get(full) or self.access.token_add(
            "root@pam", token_name, privsep=False, comment="pvesim admin token"
        )
        return token.secret

    # ---- persistence -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "format": STATE_FORMAT,
                "name": self.name,
                "profile": asdict(self.profile),
                "control_key": self.control_key,
                "access": self.access.to_json(),
                "estate": estate_to_dict(self.estate),
                "tasks": self.tasks.to_json(),
            }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, clock: Clock) -> Cluster:
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported state format {data.get('format')!r}")
        profile = VersionProfile(**data["profile"])
        cluster = cls(
            name=data["name"],
            estate=estate_from_dict(data["estate"]),
            clock=clock,
            profile=profile,
            access=AccessStore.from_json(data["access"], major=profile.major),
        )
        cluster.control_key = data["control_key"]
        cluster.tasks.load_json(data.get("tasks", []), clock.now())
        return cluster


_SAVE_LOCK = threading.Lock()


def save_state(path: Path, clusters: list[Cluster], clock: Clock) -> None:
    """Write every cluster and the clock atomically (temp file + rename).

    One save at a time per process (they share the temporary file). Each cluster is
    snapshotted under its own lock, one after the other and never nested, so callers must
    not hold any cluster's lock: two saves started from two clusters would deadlock.
    """
    with _SAVE_LOCK:
        parts = []
        for cluster in clusters:
            # Encoded under the lock: the snapshot shares configs and logs with live state.
            with cluster.lock:
                parts.append(json.dumps(cluster.to_json()))
        head = json.dumps({"format": STATE_FORMAT, "clock": clock.to_json()})
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(f'{head[:-1]}, "clusters": [{", ".join(parts)}]}}')
        tmp.replace(path)


def load_state(path: Path) -> tuple[list[Cluster], Clock]:
    """Inverse of :func:`save_state`; the clock resumes where it was saved."""
    payload = json.loads(path.read_text())
    if payload.get("format") != STATE_FORMAT:
        raise ValueError(f"unsupported state format {payload.get('format')!r}")
    clock = Clock.from_json(payload["clock"])
    return [Cluster.from_json(item, clock=clock) for item in payload["clusters"]], clock
