"""``POST .../remote_migrate``: a guest moves to another cluster (PVE's experimental
cross-cluster migration), for QEMU and LXC.

As in ``PVE::API2::Qemu``/``LXC``, the request connects to the target endpoint before it
forks the worker: an address nobody serves, a certificate that does not match the pinned
fingerprint or a refused API token answer HTTP 500 with the API client's error. The target
must be a sibling cluster served by this process (:mod:`pvesim.peers`).

The worker (``qmigrate``/``vzmigrate`` on the source) opens the tunnel, which starts a
``qmtunnel``/``vzmtunnel`` task on the target as the token's owner and creates the guest there
under ``target-vmid`` with ``lock: migrate``, its disks on the mapped storages and its NICs
on the mapped bridges (pending changes are not carried over). A guest with snapshots is
refused by the worker once the tunnel is up: PVE has no remote migration of snapshots
(qemu-server ``src/PVE/QemuMigrate.pm`` and pve-container ``src/PVE/LXC/Migrate.pm``). When
the worker ends the target guest is unlocked (running after an online migration) and the
source guest is stopped, or destroyed with ``delete``. A kept source also keeps its
``migrate`` lock: ``phase3_cleanup`` (qemu) and ``final_cleanup`` (lxc) send ``unlock``
only through the tunnel (the target's copy), so the original cannot be started by accident
next to its copy until an admin runs ``qm unlock``. A failure removes the half-made target
guest and unlocks the source.

Locking: a step runs under the source cluster's lock and takes the target's with a timeout,
so two migrations crossing in opposite directions fail with a timeout instead of hanging.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pvesim.access import Identity
from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.guest_base import assert_unlocked, release_lock, resolve_guest, set_lock, vm_path
from pvesim.api.guest_migrate import DISK_RATE, LIVE_RATE, duration_text
from pvesim.api.guest_power import guest_start_now, guest_stop_now
from pvesim.api.remote_endpoint import (
    TARGET_LOCK_TIMEOUT,
    Endpoint,
    connect,
    mapped,
    parse_endpoint,
    parse_idmap,
)
from pvesim.cluster import Cluster
from pvesim.model import Guest
from pvesim.model.guest import is_volume_option
from pvesim.model.locality import local_resources
from pvesim.model.propstring import format_propstring, key_family, parse_option, parse_size
from pvesim.model.stats import memory_bytes
from pvesim.model.volumes import image_volname, split_volid
from pvesim.peers import Peer, peer_find
from pvesim.tasks import Task, TaskError

_BRIDGE_RE = re.compile(r"(^|,)bridge=([^,]+)")
_TUNNEL_TYPES = {"qemu": "qmtunnel", "lxc": "vzmtunnel"}


@dataclass(slots=True)
class _Migration:
    """Everything one remote migration carries from step to step."""

    source: Cluster
    guest: Guest
    peer: Peer
    endpoint: Endpoint
    identity: Identity
    target_node: str
    target_vmid: int
    storages: dict[str, str]
    bridges: dict[str, str]
    online: bool
    delete: bool
    refuse: str | None = None
    task: Task | None = None
    tunnel: Task | None = None
    received: Guest | None = None
    lines: list[str] = field(default_factory=list)

    @contextmanager
    def target(self) -> Iterator[Cluster]:
        """The target cluster, locked, with its due task steps applied."""
        if peer_find(self.endpoint.host, self.endpoint.port) is not self.peer:
            raise TaskError(f"Can't connect to {self.endpoint.address} (Connection refused)")
        cluster = self.peer.cluster
        if not cluster.lock.acquire(timeout=TARGET_LOCK_TIMEOUT):
            raise TaskError(f"Can't connect to {self.endpoint.address} (Connection timed out)")
        try:
            cluster.tick()
            yield cluster
        finally:
            cluster.lock.release()

    def abort(self, problem: str, *more: str) -> TaskError:
        """PVE logs a multi-line error line by line, each with its ``ERROR:`` prefix."""
        assert self.task is not None
        self.task.lines.append(f"ERROR: migration aborted (duration 00:00:00): {problem}")
        self.task.lines.extend(f"ERROR: {line}" for line in more)
        return TaskError("migration aborted")

    # ---- steps ---------------------------------------------------------------------------

    def open_tunnel(self) -> None:
        """``mtunnel`` on the target: permission and availability checks, the tunnel
        worker, and the guest's config created there under ``lock: migrate``."""
        assert self.task is not None
        guest = self.guest
        if self.refuse is not None:
            raise self.abort(self.refuse)
        with self.target() as cluster:
            estate = cluster.estate
            privs = (f"/vms/{self.target_vmid}", "VM.Allocate"), ("/", "Sys.Incoming")
            for path, priv in privs:
                if not cluster.evaluator.has(self.identity, path, [priv]):
                    raise self.abort(f"403 Permission check failed ({path}, {priv})")
            if (resources := local_resources(guest)) and guest.kind == "qemu":
                raise self.abort(
                    f"can't migrate VM which uses local devices: {', '.join(resources)}"
                )
            if (taken := estate.guests.get(self.target_vmid)) is not None:
                # mtunnel's raise_param_exc, as PVE::APIClient::LWP reports a 400.
                raise self.abort(
                    "400 Parameter verification failed.",
                    f"vmid: unable to create empty {guest.noun} config - {taken.noun} "
                    f"{self.target_vmid} already exists on node '{taken.node}'",
                )
            config = self._target_config(cluster)
            node = estate.nodes[self.target_node]
            self.tunnel = cluster.tasks.start(
                now=cluster.now(),
                node=self.target_node,
                type=_TUNNEL_TYPES[guest.kind],
                id=str(self.target_vmid),
                user=self.identity.full,
                # The tunnel lives as long as the migration: ``finish``/``fail`` end it.
                steps=[(0.1, ["received command 'version'", "received command 'config'"]), _WAIT],
                boot_time=node.boot_time or None,
            )
            self._refuse_snapshots()
            received = Guest(
                vmid=self.target_vmid, kind=guest.kind, node=self.target_node, config=config
            )
            received.config["lock"] = "migrate"
            received.previous_status, received.status_changed_at = "unknown", cluster.now()
            estate.guests[self.target_vmid] = received
            self.received = received
        self.task.lines.extend([*self._tunnel_lines(), *self.lines])

    def _tunnel_lines(self) -> list[str]:
        assert self.tunnel is not None
        guest = self.guest
        head = f"starting migration of {guest.noun} {guest.vmid} to node '{self.target_node}'"
        return [
            f"remote: started tunnel worker '{self.tunnel.upid}'",
            "local WS tunnel version: 2",
            "remote WS tunnel version: 2",
            "minimum required WS tunnel version: 2",
            "websocket tunnel started",
            f"{head} ({self.peer.host})",
        ]

    def _refuse_snapshots(self) -> None:
        """The volume scan of phase 1: every volume a snapshot references stops the
        migration, with PVE's per-volume warning and its summary."""
        assert self.task is not None
        guest = self.guest
        volids = sorted(
            {
                volume
                for section in guest.snapshots.values()
                for key, value in section.items()
                if is_volume_option(guest.kind, key, value) and (volume := _volid_of(key, value))
            }
        )
        if not volids:
            return
        if guest.kind == "lxc":
            found = (
                "can't migrate local volume '{}': remote migration with snapshots not supported yet"
            )
            problem = "can't migrate CT - check log"
        else:
            reason = (
                "online storage migration not possible if non-replicated snapshot exists"
                if self.online
                else "remote migration with snapshots not supported yet"
            )
            found = "can't migrate local disk '{}': " + reason
            problem = "Problem found while scanning volumes - can't migrate VM - check log"
        self.task.lines.extend(
            [
                *self._tunnel_lines(),
                *(found.format(volid) for volid in volids),
                f"ERROR: {problem}",
                "aborting phase 1 - cleanup resources",
            ]
        )
        raise self.abort(problem)

    def _target_config(self, cluster: Cluster) -> dict[str, str]:
        """The guest's config as the target writes it: volumes renamed for the target vmid
        on the mapped storages, bridges mapped, CD-ROM media left behind."""
        estate = cluster.estate
        config = {k: v for k, v in self.guest.config.items() if k not in {"lock", "parent"}}
        for key, value in list(config.items()):
            family, index = key_family(key)
            if family == "net" and index is not None:
                config[key] = _BRIDGE_RE.sub(
                    lambda m: f"{m.group(1)}bridge={mapped(self.bridges, m.group(2))}", value
                )
                source = _BRIDGE_RE.search(value)
                if source and config[key] != value:
                    bridge = mapped(self.bridges, source.group(2))
                    self.lines.append(f"mapped: {key} from {source.group(2)} to {bridge}")
                continue
            if index is None and key != "rootfs":
                continue
            parsed = parse_option(key, value)
            default_key = "file" if "file" in parsed else "volume"
            volid = parsed.get(default_key) or ""
            if ":" not in volid:
                continue
            if "media=cdrom" in value:
                config[key] = "none,media=cdrom"
                continue
            storage_id = mapped(self.storages, split_volid(volid)[0])
            storage = estate.storages.get(storage_id)
            if storage is None or not storage.enabled:
                raise self.abort(f"remote: storage '{storage_id}' does not exist")
            if not storage.available_on(self.target_node):
                raise self.abort(
                    f"remote: storage '{storage_id}' is not available on node '{self.target_node}'"
                )
            disk_index = int(volid.rsplit("-disk-", 1)[1].split(".")[0]) if "-disk-" in volid else 0
            volname = image_volname(
                storage_type=storage.type, vmid=self.target_vmid, index=disk_index
            )
            parsed[default_key] = f"{storage_id}:{volname}"
            config[key] = format_propstring(parsed, default_key=default_key)
            self.lines += [
                f"found local disk '{volid}' (attached)",
                f"Allocating volume for drive '{key}' on remote storage '{storage_id}'..",
                f"volume '{volid}' is '{storage_id}:{volname}' on the target",
            ]
        return config

    def finish(self) -> None:
        """The last step passed: the target owns the guest, the source keeps a stopped,
        still ``migrate``-locked copy (or none with ``delete``)."""
        was_running = self.guest.running
        with self.target() as cluster:
            received = self.received
            if received is not None and cluster.estate.guests.get(received.vmid) is received:
                received.config.pop("lock", None)
                if self.online and was_running:
                    guest_start_now(received, cluster.now())
            if self.tunnel is not None:
                self.tunnel.lines.append("received command 'unlock'")
                self.tunnel.lines.append("received command 'quit'")
                cluster.tasks.finish(self.tunnel, cluster.now())
        now = self.source.now()
        guest_stop_now(self.guest, now)
        if self.delete:
            self.source.estate.guests.pop(self.guest.vmid, None)

    def fail(self, message: str) -> None:
        """Clean up the target (``aborting phase 1 - cleanup resources``)."""
        if self.tunnel is None:
            return
        try:
            with self.target() as cluster:
                received = self.received
                if received is not None and cluster.estate.guests.get(received.vmid) is received:
                    del cluster.estate.guests[received.vmid]
                cluster.tasks.finish(self.tunnel, cluster.now(), error=message)
        except TaskError:
            pass  # the target is unreachable; its tunnel worker times out on its own


_WAIT = (86_400.0, "tunnel idle timeout")


def remote_migrate(ctx: Context, kind: str) -> str:
    """``POST .../remote_migrate``: synchronous checks and connection, then the worker."""
    guest = resolve_guest(ctx, kind)
    ctx.check(vm_path(guest), ["VM.Migrate"])
    assert_unlocked(ctx, guest)
    online = bool(ctx.params.get("online")) or bool(ctx.params.get("restart"))
    _check_running_and_ha(ctx, guest, online=online)
    endpoint = parse_endpoint(ctx.params["target-endpoint"])
    storages = parse_idmap(ctx.params["target-storage"], "target-storage")
    bridges = parse_idmap(ctx.params["target-bridge"], "target-bridge")
    peer, identity, target_node = connect(endpoint)
    migration = _Migration(
        source=ctx.cluster,
        guest=guest,
        peer=peer,
        endpoint=endpoint,
        identity=identity,
        target_node=target_node,
        target_vmid=int(ctx.params.get("target-vmid", guest.vmid)),
        storages=storages,
        bridges=bridges,
        online=online and guest.running,
        delete=bool(ctx.params.get("delete")),
        # LXC::Migrate::prepare: only restart mode moves a running container.
        refuse="lxc live migration is currently not implemented"
        if kind == "lxc" and guest.running and not ctx.params.get("restart")
        else None,
    )
    set_lock(guest, "migrate")
    release = release_lock(guest, "migrate")

    def done() -> None:
        # The source keeps ``lock: migrate`` (or is destroyed with ``delete``).
        migration.finish()

    def failed(message: str) -> None:
        release()
        migration.fail(message)

    seconds = _disk_bytes(guest) / DISK_RATE
    seconds += memory_bytes(guest) / LIVE_RATE if migration.online else 0.0
    steps: list = [(0.5, (), migration.open_tunnel)]
    if migration.online:
        gib = memory_bytes(guest) / 1024**3
        steps.append(
            (
                max(seconds, 0.2),
                [
                    f"starting VM {migration.target_vmid} on remote node '{target_node}'",
                    "starting online/live migration",
                    f"migration active, transferred {gib:.1f} GiB of {gib:.1f} GiB VM-state",
                    "migration status: completed",
                ],
            )
        )
    else:
        steps.append((max(seconds, 0.2), "copying local disk images"))
    steps.append(
        (0.2, f"migration finished successfully (duration {duration_text(seconds + 0.7)})")
    )
    migration.task = ctx.start_task_obj(
        node=guest.node,
        type="qmigrate" if kind == "qemu" else "vzmigrate",
        id=guest.vmid,
        steps=steps,
        on_done=done,
        on_fail=failed,
    )
    return migration.task.upid


def _check_running_and_ha(ctx: Context, guest: Guest, *, online: bool) -> None:
    """The early checks in the order and words of ``remote_migrate_vm`` (qemu-server
    ``src/PVE/API2/Qemu.pm``: HA first; pve-container ``src/PVE/API2/LXC.pm``: running
    first)."""
    ha_managed = ctx.cluster.estate.ha_resource(guest) is not None
    if guest.kind == "qemu":
        if ha_managed:
            raise param_error({"vmid": "cannot remote-migrate VM that is configured for HA"})
        if guest.running and not online:
            raise ApiError(500, "can't migrate running VM without --online")
        return
    if guest.running and not online:
        raise ApiError(500, "can't migrate running container without --online or --restart")
    if ha_managed:
        raise param_error({"vmid": "cannot migrate HA-managed CT to remote cluster"})


def _volid_of(key: str, value: str) -> str:
    parsed = parse_option(key, value)
    return parsed.get("file") or parsed.get("volume") or ""


def _disk_bytes(guest: Guest) -> int:
    """Every disk is copied: shared storages are not shared across clusters."""
    total = 0
    for key, value in guest.config.items():
        if (key_family(key)[1] is None and key != "rootfs") or "media=cdrom" in value:
            continue
        size = parse_option(key, value).get("size")
        total += parse_size(size) if size else 0
    return total
