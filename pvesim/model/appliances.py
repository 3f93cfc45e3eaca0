"""OVA appliances on import storages, as ``PVE::Storage::DirPlugin::get_import_metadata``
reads them (pve-storage ``src/PVE/Storage/DirPlugin.pm``, ``src/PVE/GuestImport/OVF.pm``):
the archive's OVF descriptor gives the guest's create arguments (with a ``boot`` order over
its disks), its disks (each addressed inside the archive as
``<storage>:import/<file>.ova/<disk>``) and NICs.

An ``.ova`` volume carries its descriptor in ``Volume.ovf``::

    {"name": "legacy-erp", "cores": 4, "memory": 8192, "ostype": "l26",
     "disks": [{"bus": "scsi0", "file": "legacy-erp-disk1.vmdk", "size": 34359738368}],
     "nets": [{"key": "net0", "model": "vmxnet3"}]}

A disk inside an archive is only usable as ``import-from`` through its inner volid: PVE
extracts it first. The bare archive (or ``.ovf``) is no disk image: qemu-server's
``checked_parse_volname`` (``src/PVE/QemuServer/Drive.pm``) refuses its format before the
worker starts.
"""

from __future__ import annotations

import re
from typing import Any

from pvesim.model.errors import ModelError
from pvesim.model.estate import Estate
from pvesim.model.infra import Storage, Volume
from pvesim.model.volumes import split_volid

_INNER_RE = re.compile(
    r"^import/(?P<archive>[\w.+-]+\.ova)/(?P<file>[\w.+-]+\.(?:vmdk|qcow2|raw))$"
)
_ARCHIVE_RE = re.compile(r"^import/[\w.+-]+\.(?P<fmt>ova|ovf)$")
#: What ``DirPlugin::parse_volname`` can read at all (a volid is not among it).
_VOLNAME_RE = re.compile(r"^(?:\d+|images|rootdir|iso|vztmpl|backup|snippets|import)/[^:]+$")
#: NIC models ``PVE::GuestImport::OVF`` keeps; any other becomes ``e1000``.
_NIC_MODELS = ("e1000", "e1000e", "vmxnet3")


def _stored(estate: Estate, node: str, volid: str) -> Volume | None:
    storage_id, _ = split_volid(volid)
    storage = estate.storage(storage_id)
    return next((v for v in estate.stored_volumes(storage, node) if v.volid == volid), None)


def _descriptor(volume: Volume) -> dict[str, Any]:
    """The archive's OVF descriptor, for sizing an inner disk (wording as best known)."""
    if not volume.ovf:
        raise ModelError(f"could not find an OVF descriptor in '{volume.volid}'")
    return volume.ovf


def _tar_failed(storage: Storage, volname: str) -> ModelError:
    """``parse_ovf`` reads an archive's descriptor with ``tar -xO '*.ovf'``: a missing
    archive, or one without a descriptor, ends that command (PVE::Tools::run_command)."""
    path = f"{storage.options.get('path', '/var/lib/vz')}/{volname}"
    command = f"tar -xO --wildcards --occurrence=1 -f {path} '*.ovf'"
    return ModelError(f"command '{command}' failed: exit code 2")


def import_metadata(estate: Estate, *, node: str, volid: str) -> dict[str, Any]:
    """The ``import-metadata`` answer for an ``.ova`` (or ``.ovf``) on an import storage.

    The API joins ``<storage>:<volume>`` itself, so ``volume`` is a volume name; a volid
    given there fails ``parse_volname`` (pve-storage ``src/PVE/API2/Storage/Status.pm``)."""
    storage_id, volname = split_volid(volid)
    if _VOLNAME_RE.match(volname) is None:
        raise ModelError(f"unable to parse directory volume name '{volname}'")
    if not volname.startswith("import/"):
        raise ModelError(f"invalid content type '{volname.split('/', 1)[0]}'")
    if (archive := _ARCHIVE_RE.match(volname)) is None:
        raise ModelError("invalid format")
    is_ova = archive.group("fmt") == "ova"
    volume = _stored(estate, node, volid)
    if is_ova and (volume is None or not volume.ovf):
        raise _tar_failed(estate.storage(storage_id), volname)
    if volume is None:
        raise ModelError(f"volume '{volid}' does not exist")
    ovf = _descriptor(volume)
    args: dict[str, Any] = {
        key: ovf[key] for key in ("name", "cores", "memory", "ostype", "bios") if key in ovf
    }
    # Inside an archive a disk is addressed through it; next to an .ovf it is its own file.
    folder = volid if is_ova else f"{storage_id}:import"
    disks: dict[str, Any] = {
        disk["bus"]: {"volid": f"{folder}/{disk['file']}", "size": disk["size"]}
        for disk in ovf.get("disks", [])
    }
    if disks:
        args["boot"] = "order=" + ";".join(disks)
    warnings: list[dict[str, str]] = [{"type": "ova-needs-extracting"}] if is_ova else []
    if ovf.get("bios") == "ovmf":
        # PVE marks the EFI disk the guest needs with a bare 1, not a volume.
        disks["efidisk0"] = 1
        warnings.append({"type": "efi-state-lost", "key": "bios", "value": "ovmf"})
    nets = {net["key"]: {"model": _nic_model(net["model"])} for net in ovf.get("nets", [])}
    return {
        "type": "vm",
        "source": volname,
        "create-args": args,
        "disks": disks,
        "net": nets,
        "warnings": warnings,
    }


def _nic_model(model: str) -> str:
    return model.lower() if model.lower() in _NIC_MODELS else "e1000"


def import_source_size(estate: Estate, node: str, volid: str) -> int | None:
    """Size of an ``import-from`` source on an import storage, None for other volumes.

    A disk inside an archive is sized from the descriptor; the archive or descriptor itself
    is refused as qemu-server refuses any volume whose format QEMU cannot read."""
    storage_id, volname = split_volid(volid)
    if not volname.startswith("import/"):
        return None
    if (archive := _ARCHIVE_RE.match(volname)) is not None:
        raise ModelError(f"volume '{volid}' - not a QEMU image format '{archive.group('fmt')}'")
    inner = _INNER_RE.match(volname)
    if inner is None:
        return None
    volume = _stored(estate, node, f"{storage_id}:import/{inner.group('archive')}")
    if volume is None:
        raise ModelError(f"volume '{volid}' does not exist")
    disk = next(
        (d for d in _descriptor(volume).get("disks", []) if d["file"] == inner.group("file")), None
    )
    if disk is None:
        raise ModelError(
            f"error during extraction: '{inner.group('file')}' is not in '{volume.volid}'"
        )
    return int(disk["size"])
