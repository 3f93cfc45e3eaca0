"""Node index and node status (guests, storage and hardware per node are SIM-ESTATE's)."""

from __future__ import annotations

import math
import zlib
from typing import Any

from pvesim.api.context import Context
from pvesim.api.router import route
from pvesim.model.estate import memory_mib

_BASE_MEM = 3 * 1024**3  # host overhead: pmxcfs, pveproxy, ZFS ARC floor...


def node_stats(ctx: Context, name: str) -> dict[str, Any]:
    """Live-looking node figures derived from the running guests and simulated time.

    Deterministic for a given (node, time): a slow wave per node keeps graphs plausible
    without any background thread.
    """
    node = ctx.cluster.estate.nodes[name]
    if not node.online:
        return {"cpu": 0, "maxcpu": node.maxcpu, "mem": 0, "maxmem": node.maxmem, "uptime": 0}
    running = [g for g in ctx.cluster.estate.node_guests(name) if g.status == "running"]
    mem = _BASE_MEM + sum(memory_mib(g.config.get("memory")) * 1024**2 * 7 // 10 for g in running)
    phase = zlib.crc32(name.encode()) % 360
    wave = (math.sin(math.radians(phase + ctx.now / 60)) + 1) / 2
    cpu = min(1.0, 0.02 + 0.01 * len(running) + 0.05 * wave)
    return {
        "cpu": round(cpu, 4),
        "maxcpu": node.maxcpu,
        "mem": min(mem, node.maxmem),
        "maxmem": node.maxmem,
        "disk": node.maxdisk // 5,
        "maxdisk": node.maxdisk,
        "uptime": max(0, int(ctx.now - node.boot_time)) if node.boot_time else 86_400,
    }


@route("GET", "/nodes")
def node_list(ctx: Context) -> list[dict[str, Any]]:
    items = []
    for name, node in ctx.cluster.estate.nodes.items():
        item: dict[str, Any] = {
            "node": name,
            "id": f"node/{name}",
            "type": "node",
            "status": "online" if node.online else "offline",
        }
        # Nodes are always listed; their figures only with Sys.Audit (PVE's extract_node_stats).
        if ctx.can(f"/nodes/{name}", "Sys.Audit"):
            item.update(node_stats(ctx, name))
            item["level"] = ""
            if node.ssl_fingerprint:
                item["ssl_fingerprint"] = node.ssl_fingerprint
        items.append(item)
    return items


@route("GET", "/nodes/{node}/status")
def node_status(ctx: Context) -> dict[str, Any]:
    name = ctx.params["node"]
    ctx.check(f"/nodes/{name}", "Sys.Audit")
    node = ctx.require_node(name)
    stats = node_stats(ctx, name)
    load = stats["cpu"] * node.maxcpu
    profile = ctx.cluster.profile
    kernel = "6.14.11-4-pve" if profile.major >= 9 else "6.8.12-15-pve"
    return {
        "uptime": stats["uptime"],
        "cpu": stats["cpu"],
        "wait": 0.0012,
        "idle": 0,
        "loadavg": [f"{load:.2f}", f"{load * 0.9:.2f}", f"{load * 0.8:.2f}"],
        "cpuinfo": {
            "cores": node.maxcpu // 2,
            "cpus": node.maxcpu,
            "sockets": 1,
            "model": "AMD EPYC 7313P 16-Core Processor",
            "mhz": "3000.000",
            "hvm": "1",
            "flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sse sse2 svm",
            "user_hz": 100,
        },
        "memory": {
            "total": node.maxmem,
            "used": stats["mem"],
            "free": node.maxmem - stats["mem"],
            "available": node.maxmem - stats["mem"],
        },
        "swap": {"total": 8 * 1024**3, "used": 0, "free": 8 * 1024**3},
        "rootfs": {
            "total": 100 * 1024**3,
            "used": 12 * 1024**3,
            "free": 88 * 1024**3,
            "avail": 83 * 1024**3,
        },
        "ksm": {"shared": 0},
        "boot-info": {"mode": "efi", "secureboot": 0},
        "current-kernel": {
            "sysname": "Linux",
            "release": kernel,
            "machine": "x86_64",
            "version": f"#1 SMP PREEMPT_DYNAMIC PMX {kernel} (2025-10-01T10:00Z)",
        },
        "kversion": f"Linux {kernel} #1 SMP PREEMPT_DYNAMIC PMX",
        "pveversion": f"pve-manager/{profile.version}/{profile.repoid}",
    }
