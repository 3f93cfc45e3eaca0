"""What Proxmox reads out of an appliance on an import storage (``import-metadata``,
PVE 8.2+): the guest's create arguments, each disk as a volid inside the archive (which
``import-from`` extracts and copies), its NICs and the known problems of the import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inventory.proxmox import errors


@dataclass(frozen=True, slots=True)
class ApplianceDisk:
    """One disk of the appliance: its bus slot (``scsi0``), source volid and size in bytes
    (0 when the descriptor does not say)."""

    slot: str
    volid: str
    size: int


@dataclass(frozen=True, slots=True)
class ImportMetadata:
    """The appliance as PVE would create it; ``create_args`` are raw PVE config values."""

    source: str
    create_args: dict[str, Any]
    disks: tuple[ApplianceDisk, ...]
    nets: dict[str, dict[str, Any]]
    warnings: tuple[str, ...]

    @property
    def cores(self) -> int | None:
        value = self.create_args.get("cores")
        return int(value) if value is not None else None

    @property
    def memory_mib(self) -> int | None:
        value = self.create_args.get("memory")
        return int(value) if value is not None else None

    @classmethod
    def from_api(cls, data: Any) -> ImportMetadata:
        if not isinstance(data, dict) or not isinstance(data.get("create-args"), dict):
            raise ValueError("import-metadata without create-args")
        disks = []
        for slot, entry in sorted((data.get("disks") or {}).items()):
            # Newer PVE answers {volid, size}; the schema documents a bare volid.
            if isinstance(entry, dict):
                disks.append(ApplianceDisk(slot, str(entry["volid"]), int(entry.get("size", 0))))
            elif isinstance(entry, str):
                disks.append(ApplianceDisk(slot, entry, 0))
            # An ``efidisk0: 1`` marker is no volume to import.
        nets = {key: dict(value) for key, value in (data.get("net") or {}).items()}
        warnings = tuple(_warning_text(w) for w in data.get("warnings") or [])
        return cls(
            source=str(data.get("source", "")),
            create_args=dict(data["create-args"]),
            disks=tuple(disks),
            nets=nets,
            warnings=warnings,
        )


def _warning_text(warning: Any) -> str:
    if not isinstance(warning, dict):
        return str(warning)
    detail = "=".join(str(warning[k]) for k in ("key", "value") if k in warning)
    return f"{warning.get('type', 'warning')}" + (f" ({detail})" if detail else "")


class ApplianceReads:
    """Mixed into ``ProxmoxGateway``; relies on its ``_call``."""

    if TYPE_CHECKING:

        def _call(self, method: str, path: str, template: str = "", /, **params: Any) -> Any: ...

    def import_metadata(self, *, node: str, storage: str, volume: str) -> ImportMetadata:
        """Read the appliance ``volume`` (``<storage>:import/<file>.ova``) on ``node``.

        PVE prefixes the storage itself, so the call carries the volume name only."""
        path = f"/nodes/{node}/storage/{storage}/import-metadata"
        template = "/nodes/{node}/storage/{storage}/import-metadata"
        volname = volume.removeprefix(f"{storage}:")
        data = self._call("GET", path, template, volume=volname)
        try:
            return ImportMetadata.from_api(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.ProxmoxInvalidResponse(str(exc), method="GET", path=path) from exc
