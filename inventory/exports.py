"""The exposure report as CSV: one long table, a row per stay and per copy, so a
spreadsheet can filter by guest or by kind of record. Cells a spreadsheet would run as a
formula are neutralised (guest and copy names come from whoever runs Proxmox)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from governance.core.spreadsheets import spreadsheet_safe
from inventory.selectors.ledgers import EXPOSURE_RISKY_CLASSES, Exposure

EXPOSURE_COLUMNS = (
    "record",
    "guest_id",
    "cluster",
    "vmid",
    "name",
    "classification",
    "owner",
    "team",
    "destroyed_at",
    "from",
    "to",
    "cause_or_kind",
    "copy_name",
    "storage",
    "copy_node",
    "storage_class",
    "removable_or_external",
    "task",
)


class _Echo:
    """A file-like sink that hands each written line back, for streaming."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None:
        return ""
    return spreadsheet_safe(value)


def _records(entry: Exposure) -> Iterator[dict[str, Any]]:
    vm = entry.vm
    guest = {
        "guest_id": vm.pk,
        "cluster": vm.cluster.name,
        "vmid": vm.vmid,
        "name": vm.name,
        "classification": vm.classification,
        "owner": vm.owner_name,
        "team": vm.team_name,
        "destroyed_at": vm.gone_since,
    }
    for stay in entry.stays:
        yield {
            **guest,
            "record": "stay",
            "from": stay.started_at,
            "to": stay.ended_at,
            "cause_or_kind": stay.cause,
            "task": stay.task_upid,
        }
    for copy in entry.copies:
        yield {
            **guest,
            "record": "copy",
            "from": copy.created_at,
            "to": copy.deleted_at,
            "cause_or_kind": copy.kind,
            "copy_name": copy.name,
            "storage": copy.storage_name or (copy.storage.name if copy.storage else ""),
            "copy_node": copy.node,
            "storage_class": copy.storage_class,
            "removable_or_external": "yes"
            if copy.storage_class in EXPOSURE_RISKY_CLASSES
            else "no",
            "task": copy.task_upid,
        }


def exposure_csv_lines(batches: Iterable[list[Exposure]]) -> Iterator[str]:
    """The CSV document line by line, header first; ``batches`` are read as they come."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPOSURE_COLUMNS)
    for batch in batches:
        for entry in batch:
            for record in _records(entry):
                yield writer.writerow([_cell(record.get(column)) for column in EXPOSURE_COLUMNS])
