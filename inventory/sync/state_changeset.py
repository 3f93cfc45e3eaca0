"""Every write one sync cycle needs: the ``Changeset`` the diff builds and apply reads.

See :mod:`inventory.sync.state` for the whole contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inventory.sync.state_remote import ConfigFacts


@dataclass(frozen=True)
class GuestRef:
    """A guest by row id, or by vmid when it is created in the same changeset."""

    vmid: int
    id: int | None = None


@dataclass(frozen=True)
class RowChange:
    """Fields to set on an existing row (only those that changed)."""

    id: int
    fields: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class GuestNew:
    """A guest row to create (``GuestRef(vmid)`` refers to it within the changeset)."""

    vmid: int
    fields: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class GuestUpdate:
    """Fields to set on an existing guest; ``facts`` (when set) replace its nics/disks/devices."""

    id: int
    vmid: int
    fields: Mapping[str, Any] = field(hash=False)
    facts: ConfigFacts | None = None


@dataclass(frozen=True)
class ResidencyOpen:
    guest: GuestRef
    node: str
    started_at: datetime
    cause: str
    task_upid: str = ""
    storage_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResidencyClose:
    id: int
    ended_at: datetime


@dataclass(frozen=True)
class CopyOpen:
    """A copy to record; ``guest`` is None when its source guest is unknown."""

    guest: GuestRef | None
    source_vmid: int
    kind: str
    name: str
    created_at: datetime
    storage: str = ""
    node: str = ""
    size: int = 0
    vmstate: bool = False
    parent: str = ""
    task_upid: str = ""


@dataclass(frozen=True)
class CopyClose:
    id: int
    deleted_at: datetime


@dataclass(frozen=True)
class LineageAdd:
    parent: GuestRef
    child: GuestRef
    kind: str
    detected_at: datetime
    task_upid: str = ""


@dataclass(frozen=True)
class RollbackAdd:
    guest: GuestRef
    detected_at: datetime
    source: str
    snapshot_name: str = ""
    task_upid: str = ""
    old_vmgenid: str = ""
    new_vmgenid: str = ""


@dataclass(frozen=True)
class Event:
    """An audit event (``inventory.<action>``) about a guest (or the cluster when None)."""

    action: str
    guest: GuestRef | None = None
    before: Mapping[str, Any] | None = field(default=None, hash=False)
    after: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass
class Changeset:
    """Every write one cycle needs. Empty (``not changeset``) when nothing changed.

    Mutable while the diff builds it; apply only reads it. Creation lists carry the
    model field values; ``*_gone`` lists carry row ids to stamp ``gone_since``;
    ``*_delete`` lists carry row ids of mirrored objects that no longer exist.
    """

    now: datetime
    nodes_create: list[dict[str, Any]] = field(default_factory=list)
    nodes_update: list[RowChange] = field(default_factory=list)
    storages_create: list[dict[str, Any]] = field(default_factory=list)
    storages_update: list[RowChange] = field(default_factory=list)
    # (storage name, node name, fields) for statuses without a row yet.
    storage_statuses_create: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    storage_statuses_update: list[RowChange] = field(default_factory=list)
    pools_create: list[str] = field(default_factory=list)
    pools_delete: list[int] = field(default_factory=list)
    guests_create: list[GuestNew] = field(default_factory=list)
    guests_update: list[GuestUpdate] = field(default_factory=list)
    guests_gone: list[int] = field(default_factory=list)
    # Parsed facts of guests created in this changeset, by vmid.
    new_guest_facts: dict[int, ConfigFacts] = field(default_factory=dict)
    residencies_open: list[ResidencyOpen] = field(default_factory=list)
    residencies_close: list[ResidencyClose] = field(default_factory=list)
    copies_open: list[CopyOpen] = field(default_factory=list)
    copies_close: list[CopyClose] = field(default_factory=list)
    lineage_add: list[LineageAdd] = field(default_factory=list)
    rollbacks_add: list[RollbackAdd] = field(default_factory=list)
    tasks_create: list[dict[str, Any]] = field(default_factory=list)
    tasks_update: list[RowChange] = field(default_factory=list)
    # Mirrored cluster objects: model name -> rows to create / change / delete.
    mirror_create: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mirror_update: dict[str, list[RowChange]] = field(default_factory=dict)
    mirror_delete: dict[str, list[int]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    # Data problems that did not stop the cycle (duplicate vmids, suspicious empty lists).
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(
            getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("now", "events", "warnings", "stats")
        )

    @property
    def changes_content(self) -> bool:
        """Whether it changes anything a page shows: every write except the rolling
        re-read's new config ages (which a steady-state cycle always has)."""
        ages_only = all(set(u.fields) == {"config_read_at"} for u in self.guests_update)
        others = (
            getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("now", "warnings", "stats", "guests_update")
        )
        return not ages_only or any(others)
