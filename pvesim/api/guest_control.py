"""Out-of-band admin actions on guests for the control API (``/_sim/guest/...``): what an
admin would do in the Proxmox GUI behind the portal's back.

    POST guest/attach-usb {vmid, device: "1050:0407" | "1-3" [, usb3]}  -> {key, value}
    POST guest/detach-usb {vmid, key}
    POST guest/migrate    {vmid, target [, online]}                     -> {upid}
    POST guest/snapshot   {vmid, snapname [, vmstate, description]}
    POST guest/lock       {vmid, lock}     (a stale lock, as a crashed task leaves it)
    POST guest/unlock     {vmid}           (``qm unlock``)
    POST stats-lag        {enabled}        (resources show power states ~10 s late)
"""

from __future__ import annotations

from typing import Any

from pvesim.api.guest_migrate import migrate_start
from pvesim.cluster import Cluster
from pvesim.control import ControlError, control_action
from pvesim.model import Guest, ModelError
from pvesim.model.guest import next_free_index
from pvesim.model.snapshots import snapshot_create
from pvesim.model.volumes import state_volname


def _guest(cluster: Cluster, params: dict[str, Any]) -> Guest:
    guest = cluster.estate.guests.get(int(params["vmid"]))
    if guest is None:
        raise ControlError(f"no such guest {params['vmid']!r}")
    return guest


@control_action("guest/attach-usb")
def attach_usb(cluster: Cluster, params: dict[str, Any]) -> dict[str, str]:
    guest = _guest(cluster, params)
    if guest.kind != "qemu":
        raise ControlError("USB passthrough is a QEMU feature")
    device = str(params["device"])
    node = cluster.estate.nodes[guest.node]
    known = {f"{d.vendid}:{d.prodid}" for d in node.usb} | {d.usbpath for d in node.usb}
    if device not in known:
        raise ControlError(f"no USB device {device!r} on node {guest.node!r}")
    key = f"usb{next_free_index(guest.config, 'usb')}"
    value = f"host={device}" + (",usb3=1" if params.get("usb3") else "")
    guest.config[key] = value  # USB is hot-pluggable: applies to a running VM at once
    return {"key": key, "value": value}


@control_action("guest/detach-usb")
def detach_usb(cluster: Cluster, params: dict[str, Any]) -> dict[str, str]:
    guest = _guest(cluster, params)
    key = str(params["key"])
    if not key.startswith("usb") or key not in guest.config:
        raise ControlError(f"{key!r} is not a USB device of guest {guest.vmid}")
    del guest.config[key]
    return {"key": key}


@control_action("guest/migrate")
def migrate(cluster: Cluster, params: dict[str, Any]) -> dict[str, str]:
    guest = _guest(cluster, params)
    target = str(params["target"])
    if target not in cluster.estate.nodes or target == guest.node:
        raise ControlError(f"bad target node {target!r}")
    if guest.lock:
        raise ControlError(f"{guest.noun} is locked ({guest.lock})")
    upid = migrate_start(
        cluster,
        guest,
        target,
        user="root@pam",
        online=bool(params.get("online", guest.running)),
        with_local_disks=True,
        now=cluster.now(),
    )
    return {"upid": upid}


@control_action("guest/snapshot")
def snapshot(cluster: Cluster, params: dict[str, Any]) -> dict[str, str]:
    guest = _guest(cluster, params)
    name = str(params["snapname"])
    vmstate = None
    if params.get("vmstate") and guest.running and guest.kind == "qemu":
        volumes = guest.volumes()
        storage_id = volumes[0][1].split(":", 1)[0] if volumes else "local"
        storage = cluster.estate.storages[storage_id]
        volname = state_volname(storage_type=storage.type, vmid=guest.vmid, snapname=name)
        vmstate = f"{storage_id}:{volname}"
    try:
        snapshot_create(
            guest,
            name=name,
            description=str(params.get("description", "")),
            snaptime=int(cluster.now()),
            vmstate=vmstate,
        )
    except ModelError as exc:
        raise ControlError(exc.message) from None
    return {"snapshot": name}


@control_action("guest/lock")
def lock(cluster: Cluster, params: dict[str, Any]) -> dict[str, str]:
    guest = _guest(cluster, params)
    guest.config["lock"] = str(params["lock"])
    return {"lock": guest.config["lock"]}


@control_action("guest/unlock")
def unlock(cluster: Cluster, params: dict[str, Any]) -> None:
    _guest(cluster, params).config.pop("lock", None)


@control_action("stats-lag")
def stats_lag(cluster: Cluster, params: dict[str, Any]) -> dict[str, int]:
    """``POST stats-lag {enabled: 0|1}``: resources lag power changes like pvestatd (10 s)."""
    cluster.estate.stats_lag = bool(int(params.get("enabled", 1)))
    return {"enabled": int(cluster.estate.stats_lag)}
