"""Volume identifiers (``<storage>:<volname>``) as PVE's storage plugins name them.

Block storages (lvm, lvmthin, zfspool, rbd) name images ``vm-100-disk-0`` and linked clones
``base-900-disk-0/vm-101-disk-0``; file storages (dir, nfs, cifs, btrfs) put them under a
per-vmid directory with an extension: ``100/vm-100-disk-0.qcow2`` and
``900/base-900-disk-0.qcow2/101/vm-101-disk-0.qcow2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FILE_STORAGE_TYPES = frozenset({"dir", "nfs", "cifs", "btrfs", "cephfs", "glusterfs"})
BLOCK_STORAGE_TYPES = frozenset({"lvm", "lvmthin", "zfspool", "rbd", "iscsi", "iscsidirect", "zfs"})

_IMAGE_RE = re.compile(
    r"^(?:(?P<basedir>\d+)/)?(?:(?P<base>base-(?P<basevmid>\d+)-disk-\d+)(?:\.\w+)?/)?"
    r"(?:(?P<dir>\d+)/)?(?P<name>(?:vm|base|subvol|basevol)-(?P<vmid>\d+)-"
    r"(?:disk-\d+|cloudinit|state-[\w.-]+))(?:\.(?P<ext>\w+))?$"
)
_BACKUP_RE = re.compile(r"^backup/vzdump-(?P<type>qemu|lxc|openvz)-(?P<vmid>\d+)-")
_PBS_RE = re.compile(r"^backup/(?P<type>vm|ct)/(?P<vmid>\d+)/")


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """What a volid says about itself: content type, owner and (for linked clones) base."""

    storage: str
    volname: str
    content: str
    vmid: int | None
    base_volname: str | None = None
    fmt: str = "raw"


def split_volid(volid: str) -> tuple[str, str]:
    """``local-lvm:vm-100-disk-0`` -> ``("local-lvm", "vm-100-disk-0")``; ValueError otherwise."""
    storage, sep, volname = volid.partition(":")
    if not sep or not storage or not volname:
        raise ValueError(f"unable to parse volume ID '{volid}'")
    return storage, volname


def parse_volid(volid: str) -> VolumeInfo:
    """Classify a volid the way ``PVE::Storage::parse_volname`` does (content + owner)."""
    storage, volname = split_volid(volid)
    if volname.startswith("iso/"):
        return VolumeInfo(storage, volname, "iso", None, fmt="iso")
    if volname.startswith("vztmpl/"):
        return VolumeInfo(storage, volname, "vztmpl", None, fmt="tzst")
    if volname.startswith("snippets/"):
        return VolumeInfo(storage, volname, "snippets", None, fmt="snippet")
    if volname.startswith("import/"):
        ext = volname.rsplit(".", 1)[-1]
        return VolumeInfo(storage, volname, "import", None, fmt=ext)
    backup = _BACKUP_RE.match(volname) or _PBS_RE.match(volname)
    if backup is not None:
        fmt = "pbs-" + backup.group("type") if volname.count("/") > 1 else _backup_format(volname)
        return VolumeInfo(storage, volname, "backup", int(backup.group("vmid")), fmt=fmt)
    image = _IMAGE_RE.match(volname)
    if image is not None:
        content = "rootdir" if image.group("name").startswith(("subvol", "basevol")) else "images"
        return VolumeInfo(
            storage,
            volname,
            content,
            int(image.group("vmid")),
            base_volname=image.group("base"),
            fmt=image.group("ext") or ("subvol" if content == "rootdir" else "raw"),
        )
    return VolumeInfo(storage, volname, "images", None)


def _backup_format(volname: str) -> str:
    for marker, fmt in ((".vma", "vma"), (".tar", "tar")):
        if marker in volname:
            suffix = volname.rsplit(marker, 1)[1].lstrip(".")
            return f"{fmt}.{suffix}" if suffix else fmt
    return "raw"


def image_volname(
    *,
    storage_type: str,
    vmid: int,
    index: int,
    fmt: str = "qcow2",
    base: str | None = None,
    prefix: str = "vm",
) -> str:
    """Name a new guest image on a storage of ``storage_type``.

    ``base`` is the base volname of a template for a linked clone. ``prefix`` is ``vm``,
    ``base`` (template disks) or ``subvol`` (zfs container volumes).
    """
    if storage_type in FILE_STORAGE_TYPES:
        name = f"{vmid}/{prefix}-{vmid}-disk-{index}.{fmt}"
    else:
        name = f"{prefix}-{vmid}-disk-{index}"
    if base is None:
        return name
    return f"{base}/{name}"


def base_volname(volname: str, *, vmid: int) -> str:
    """The template form of a guest image: ``vm-900-disk-0`` -> ``base-900-disk-0``."""
    return volname.replace(f"vm-{vmid}-", f"base-{vmid}-").replace(
        f"subvol-{vmid}-", f"basevol-{vmid}-"
    )


def state_volname(*, storage_type: str, vmid: int, snapname: str) -> str:
    """Where a RAM snapshot's state goes: ``vm-100-state-<snap>``."""
    if storage_type in FILE_STORAGE_TYPES:
        return f"{vmid}/vm-{vmid}-state-{snapname}.raw"
    return f"vm-{vmid}-state-{snapname}"


def is_storage_format_file(storage_type: str) -> bool:
    return storage_type in FILE_STORAGE_TYPES
