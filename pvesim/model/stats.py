"""Runtime statistics of guests as pvestatd reports them (cpu, memory, I/O counters).

Numbers are synthetic but stable: a pure function of the guest, its config and the 10-second
pvestatd interval, so repeated reads within one interval agree and tests are deterministic.
"""

from __future__ import annotations

import re
from typing import Any

from pvesim.model.guest import Guest
from pvesim.model.propstring import key_family

STAT_INTERVAL = 10  # pvestatd push period in seconds
_MIB = 1024**2
_BOOT_DISK_ORDER = ("scsi0", "virtio0", "sata0", "ide0")


def memory_bytes(guest: Guest) -> int:
    raw = guest.config.get("memory", "512")
    value = raw.split(",", 1)[0].removeprefix("current=")
    return (int(value) if value.isdigit() else 512) * _MIB


def cpu_count(guest: Guest) -> int:
    config = guest.config
    if guest.kind == "lxc":
        return int(config.get("cores", "1"))
    if "vcpus" in config:
        return int(config["vcpus"])
    return int(config.get("cores", "1")) * int(config.get("sockets", "1"))


_SIZE_RE = re.compile(r"(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _size_of(value: str) -> int:
    match = _SIZE_RE.search(value)
    if match is None:
        return 0
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def boot_disk_size(guest: Guest) -> int:
    config = guest.config
    if guest.kind == "lxc":
        return _size_of(config.get("rootfs", ""))
    for key in _BOOT_DISK_ORDER:
        value = config.get(key)
        if value is not None and "media=cdrom" not in value:
            return _size_of(value)
    for key, value in config.items():
        family, index = key_family(key)
        is_disk = index is not None and family in {"scsi", "virtio", "sata", "ide"}
        if is_disk and "media=cdrom" not in value:
            return _size_of(value)
    return 0


def guest_stats(guest: Guest, now: float, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pvestatd fields of one guest at simulated time ``now`` (written into ``into``
    when given, which saves a copy on the hot ``/cluster/resources`` path)."""
    stats: dict[str, Any] = {} if into is None else into
    maxmem = stats["maxmem"] = memory_bytes(guest)
    stats["maxcpu"] = cpu_count(guest)
    maxdisk = stats["maxdisk"] = boot_disk_size(guest)
    if not guest.running:
        stats.update(_STOPPED)
        return stats
    stats.update(guest_usage(guest, now, maxmem=maxmem, maxdisk=maxdisk))
    return stats


def guest_usage(guest: Guest, now: float, *, maxmem: int, maxdisk: int) -> dict[str, Any]:
    """The usage figures of a running guest (cpu, mem, disk, uptime, I/O counters), given
    its limits; cheap, as ``/cluster/resources`` recomputes them every interval."""
    uptime = max(0, int(now - guest.started_at))
    # One hash per guest gives its stable profile; one more per interval gives the jitter.
    profile = (guest.vmid * 2654435761) & 0xFFFFFFFF
    jitter = (((guest.vmid * 40503) ^ (int(now // STAT_INTERVAL) * 2654435761)) >> 7 & 0xFF) / 256
    rate = 1 + (profile >> 24) * 800
    return {
        "cpu": 0.0 if guest.paused else round((profile & 0xFF) * 0.3 / 256 + jitter * 0.1, 6),
        "mem": int(maxmem * (0.25 + 0.5 * ((profile >> 8) & 0xFF) / 256 + 0.05 * jitter)),
        "disk": (
            int(maxdisk * (0.2 + 0.6 * ((profile >> 16) & 0xFF) / 256))
            if guest.kind == "lxc"
            else 0
        ),
        "uptime": uptime,
        "netin": uptime * rate,
        "netout": uptime * rate // 3,
        "diskread": uptime * rate * 2,
        "diskwrite": uptime * rate,
    }


_STOPPED = {
    "cpu": 0,
    "mem": 0,
    "disk": 0,
    "uptime": 0,
    "netin": 0,
    "netout": 0,
    "diskread": 0,
    "diskwrite": 0,
}
