"""QEMU guest agent: ``info``, ``ping``, ``get-osinfo``, ``network-get-interfaces``; LXC
``interfaces``. Answers are derived from the guest's OS profile, NIC MACs and vmid."""

from __future__ import annotations

from typing import Any

from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.guest_base import resolve_guest, vm_path
from pvesim.api.guest_config import agent_enabled
from pvesim.api.router import route
from pvesim.model import Guest
from pvesim.model.propstring import key_family, nic_model_and_mac, parse_option

AGENT = "/nodes/{node}/qemu/{vmid}/agent"

_OS_INFO = {
    "l26": {
        "id": "debian",
        "name": "Debian GNU/Linux",
        "pretty-name": "Debian GNU/Linux 12 (bookworm)",
        "version": "12 (bookworm)",
        "version-id": "12",
        "kernel-release": "6.1.0-28-amd64",
        "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)",
        "machine": "x86_64",
    },
    "win11": {
        "id": "mswindows",
        "name": "Microsoft Windows",
        "pretty-name": "Windows Server 2022 Standard",
        "version": "Microsoft Windows Server 2022",
        "version-id": "2022",
        "variant": "server",
        "variant-id": "server",
        "kernel-release": "20348",
        "kernel-version": "10.0",
        "machine": "x86_64",
    },
    "win10": {
        "id": "mswindows",
        "name": "Microsoft Windows",
        "pretty-name": "Windows 10 Enterprise",
        "version": "Microsoft Windows 10",
        "version-id": "10",
        "variant": "client",
        "variant-id": "client",
        "kernel-release": "19045",
        "kernel-version": "10.0",
        "machine": "x86_64",
    },
}


def guest_ipv4(guest: Guest, index: int) -> str:
    """A stable address per guest and NIC (10.<nic>.<hi>.<lo>)."""
    return f"10.{20 + index}.{(guest.vmid >> 8) & 0xFF}.{guest.vmid & 0xFF or 1}"


def _nics(guest: Guest) -> list[tuple[int, str]]:
    nics = []
    for key, value in guest.config.items():
        family, index = key_family(key)
        if family != "net" or index is None:
            continue
        if guest.kind == "qemu":
            mac = nic_model_and_mac(value)[1] or "BC:24:11:00:00:00"
        else:
            mac = parse_option(key, value).get("hwaddr", "BC:24:11:00:00:00")
        nics.append((index, mac.lower()))
    return sorted(nics)


def _agent_guest(ctx: Context, privs: list[str]) -> Guest:
    guest = resolve_guest(ctx, "qemu")
    ctx.check(vm_path(guest), privs, any_=True)
    if not agent_enabled(guest):
        raise ApiError(500, "No QEMU guest agent configured")
    if not guest.running:
        raise ApiError(500, f"VM {guest.vmid} is not running")
    if not guest.agent_installed or guest.paused:
        raise ApiError(500, "QEMU guest agent is not running")
    return guest


_AUDIT = ["VM.GuestAgent.Audit", "VM.Monitor"]


@route("GET", AGENT + "/info")
def agent_info(ctx: Context) -> dict[str, Any]:
    _agent_guest(ctx, _AUDIT)
    commands = ["guest-info", "guest-ping", "guest-get-osinfo", "guest-network-get-interfaces"]
    return {
        "result": {
            "version": "9.2.0",
            "supported_commands": [
                {"name": name, "enabled": True, "success-response": True} for name in commands
            ],
        }
    }


@route("POST", AGENT + "/ping")
def agent_ping(ctx: Context) -> dict[str, Any]:
    _agent_guest(ctx, _AUDIT)
    return {"result": {}}


@route("GET", AGENT + "/get-osinfo")
def agent_osinfo(ctx: Context) -> dict[str, Any]:
    guest = _agent_guest(ctx, _AUDIT)
    info = guest.os_release or _OS_INFO.get(guest.config.get("ostype", "l26"), _OS_INFO["l26"])
    return {"result": dict(info)}


@route("GET", AGENT + "/network-get-interfaces")
def agent_interfaces(ctx: Context) -> dict[str, Any]:
    guest = _agent_guest(ctx, _AUDIT)
    windows = guest.config.get("ostype", "").startswith("w")
    result: list[dict[str, Any]] = []
    if not windows:
        result.append(
            {
                "name": "lo",
                "hardware-address": "00:00:00:00:00:00",
                "ip-addresses": [
                    {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
                    {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128},
                ],
                "statistics": _traffic(0),
            }
        )
    for index, mac in _nics(guest):
        name = f"Ethernet {index + 1}" if windows else f"ens{18 + index}"
        result.append(
            {
                "name": name,
                "hardware-address": mac,
                "ip-addresses": [
                    {
                        "ip-address-type": "ipv4",
                        "ip-address": guest_ipv4(guest, index),
                        "prefix": 24,
                    },
                    {"ip-address-type": "ipv6", "ip-address": _link_local(mac), "prefix": 64},
                ],
                "statistics": _traffic(guest.vmid + index),
            }
        )
    return {"result": result}


def _traffic(seed: int) -> dict[str, int]:
    return {
        "rx-bytes": 1000 * (seed + 7),
        "rx-packets": seed + 7,
        "rx-errs": 0,
        "rx-dropped": 0,
        "tx-bytes": 500 * (seed + 7),
        "tx-packets": seed + 3,
        "tx-errs": 0,
        "tx-dropped": 0,
    }


def _link_local(mac: str) -> str:
    parts = [int(p, 16) for p in mac.split(":")]
    parts[0] ^= 0x02
    eui = [*parts[:3], 255, 254, *parts[3:]]
    groups = [f"{eui[i] << 8 | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return "fe80::" + ":".join(groups)


@route("GET", "/nodes/{node}/lxc/{vmid}/interfaces")
def lxc_interfaces(ctx: Context) -> list[dict[str, Any]]:
    guest = resolve_guest(ctx, "lxc")
    ctx.check(vm_path(guest), ["VM.Audit"])
    if not guest.running:
        raise ApiError(500, f"CT {guest.vmid} is not running")
    nics = [("lo", "00:00:00:00:00:00", "127.0.0.1", 8, "::1", 128)]
    for index, mac in _nics(guest):
        nics.append((f"eth{index}", mac, guest_ipv4(guest, index), 24, _link_local(mac), 64))
    return [
        {
            "name": name,
            "hwaddr": mac,
            "hardware-address": mac,
            "inet": f"{ipv4}/{prefix4}",
            "inet6": f"{ipv6}/{prefix6}",
            "ip-addresses": [
                {"ip-address-type": "inet", "ip-address": ipv4, "prefix": prefix4},
                {"ip-address-type": "inet6", "ip-address": ipv6, "prefix": prefix6},
            ],
        }
        for name, mac, ipv4, prefix4, ipv6, prefix6 in nics
    ]
