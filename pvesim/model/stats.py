"""Runtime statistics of guests as pvestatd reports them (cpu, memory, I/O counters).

Numbers are synthetic but stable: a pure function of the guest, its config and the 10-second
pvestatd interval, so repeated reads within one interval agree and tests are deterministic.
"""

from __future__ import annotations

from typing import Any

from pvesim.model.guest import Guest
from pvesim.model.propstring import key_family, parse_size

STAT_INTERVAL = 10  # pvestatd push period in seconds
_MIB = 1024**2
_BOOT_DISK_ORDER = ("scsi0", "virtio0", "sata0", "ide0")


def _mix(*values: int) -> float:
    """Cheap deterministic hash of ints to [0, 1)."""
    acc = 0x9E3779B9
    for value in values:
        acc = ((acc ^ value) * 0x01000193) & 0xFFFFFFFF
        acc ^= acc >> 15
    return (acc & 0xFFFF) / 65536.0


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


def _size_of(value: str) -> int:
    for part in value.split(","):
        if part.startswith("size="):
            try:
                return parse_size(part[5:])
            except ValueError:
                return 0
    return 0


def boot_disk_size(guest: Guest) -> int:
    config = guest.config
    if guest.kind == "lxc":
        return _size_of(config.get("rootfs", ""))
    for key in _BOOT_DISK_ORDER:
        if key in config and "media=cdrom" not in config[key]:
            return _size_of(config[key])
    for key, value in config.items():
        family, index = key_family(key)
        is_disk = index is not None and family in {"scsi", "virtio", "sata", "ide"}
        if is_disk and "media=cdrom" not in value:
            return _size_of(value)
    return 0


def guest_stats(guest: Guest, now: float) -> dict[str, Any]:
    """The pvestatd fields of one guest at simulated time ``now``."""
    maxmem = memory_bytes(guest)
    maxcpu = cpu_count(guest)
    maxdisk = boot_disk_size(guest)
    stats: dict[str, Any] = {
        "maxmem": maxmem,
        "maxcpu": maxcpu,
        "maxdisk": maxdisk,
    }
    if not guest.running:
        stats.update(cpu=0, mem=0, disk=0, uptime=0, netin=0, netout=0, diskread=0, diskwrite=0)
        return stats
    bucket = int(now // STAT_INTERVAL)
    uptime = max(0, int(now - guest.started_at))
    load = _mix(guest.vmid, 1)
    jitter = _mix(guest.vmid, bucket)
    stats["cpu"] = 0.0 if guest.paused else round(min(1.0, load * 0.3 + jitter * 0.1), 6)
    stats["mem"] = int(maxmem * (0.25 + 0.5 * _mix(guest.vmid, 2) + 0.05 * jitter))
    stats["disk"] = int(maxdisk * (0.2 + 0.6 * _mix(guest.vmid, 3))) if guest.kind == "lxc" else 0
    stats["uptime"] = uptime
    rate = 1 + int(_mix(guest.vmid, 4) * 200_000)
    stats["netin"] = uptime * rate
    stats["netout"] = uptime * rate // 3
    stats["diskread"] = uptime * rate * 2
    stats["diskwrite"] = uptime * rate
    return stats
