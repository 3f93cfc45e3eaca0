"""Gateway calls that make, copy, move out or restore guests, and the reads that track
the tasks they start: clone, create (incl. ``import-from``), template conversion, remote
migration, backup, snapshot rollback, node task lists, user mappings.

Each call that starts a Proxmox task returns its UPID and never waits; callers poll
``task_status``. Names (vmid, node, storage) are passed through unchanged: choosing them
(allowed nodes, approved storage) is the caller's policy decision, not the gateway's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from inventory.proxmox import errors
from inventory.proxmox.connection import Endpoint
from inventory.proxmox.operations import User
from inventory.proxmox.types import Task, Upid

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


def import_disk_option(*, storage: str, source: str, extra: Mapping[str, str] | None = None) -> str:
    """A disk option asking PVE to copy ``source`` (a volid, e.g. an image on an import
    storage) onto ``storage`` at creation: ``<storage>:0,import-from=<volid>``."""
    if ":" not in source:
        raise ValueError(f"an import source is a volume id (storage:volume), not {source!r}")
    options = [f"{storage}:0", f"import-from={source}"]
    options += [f"{key}={value}" for key, value in (extra or {}).items()]
    return ",".join(options)


def remote_endpoint_spec(endpoint: Endpoint) -> str:
    """``target-endpoint`` for ``remote_migrate``: the target's API token, address and
    pinned fingerprint in PVE's property-string form (colon-separated upper-case hex)."""
    if not endpoint.fingerprint:
        # PVE's API client on the source node trusts only a pinned certificate here.
        raise ValueError("a remote migration target needs a pinned certificate fingerprint")
    hexed = endpoint.fingerprint.upper()
    fingerprint = ":".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))
    return ",".join(
        [
            f"apitoken=PVEAPIToken={endpoint.token_id}={endpoint.token_secret}",
            f"host={endpoint.host}",
            f"port={endpoint.port}",
            f"fingerprint={fingerprint}",
        ]
    )


class ProvisioningWrites:
    """Mixed into ``ProxmoxGateway``; relies on its ``_call``/``_list``/``_guest_path``."""

    if TYPE_CHECKING:

        def _call(self, method: str, path: str, template: str = "", /, **params: Any) -> Any: ...

        def _list(
            self, path: str, parse: Callable[[Any], T], template: str = "", **params: Any
        ) -> list[T]: ...

        def _guest_path(
            self, node: str, kind: str, vmid: int, tail: str, template_tail: str = ""
        ) -> tuple[str, str]: ...

        @staticmethod
        def _check_kind(kind: str) -> None: ...

        def users(self) -> list[User]: ...

        def user_create(self, *, userid: str, comment: str = "", enabled: bool = True) -> None: ...

    def next_vmid(self) -> int:
        """A vmid free cluster-wide right now (``/cluster/nextid``); PVE reserves nothing,
        so a create with it can still lose a race and fail with "already exists"."""
        data = self._call("GET", "/cluster/nextid")
        try:
            return int(data)
        except (TypeError, ValueError) as exc:
            raise errors.ProxmoxInvalidResponse(
                f"nextid is not a number: {data!r}", method="GET", path="/cluster/nextid"
            ) from exc

    def guest_clone(
        self,
        *,
        node: str,
        kind: str,
        vmid: int,
        newid: int,
        name: str = "",
        target: str = "",
        full: bool | None = None,
        storage: str = "",
        pool: str = "",
        description: str = "",
    ) -> str:
        """Start copying guest ``vmid`` (often a template) to ``newid``; the UPID
        (``qmclone``/``vzclone``). ``full=None`` keeps PVE's default (linked from a template,
        full otherwise); ``target`` places the copy on another node."""
        path, template = self._guest_path(node, kind, vmid, "/clone")
        params: dict[str, Any] = {"newid": int(newid)}
        if name:
            params["name" if kind == "qemu" else "hostname"] = name
        if full is not None:
            params["full"] = int(full)
        params.update(
            {
                k: v
                for k, v in {
                    "target": target,
                    "storage": storage,
                    "pool": pool,
                    "description": description,
                }.items()
                if v
            }
        )
        return Upid.parse(self._call("POST", path, template, **params)).raw

    def guest_template(self, *, node: str, kind: str, vmid: int) -> str:
        """Convert a stopped guest into a template (irreversible: its disks become
        ``base-`` volumes); the UPID of ``qmtemplate``, or "" for LXC, which PVE converts
        synchronously."""
        path, template = self._guest_path(node, kind, vmid, "/template")
        data = self._call("POST", path, template)
        return Upid.parse(data).raw if data else ""

    def guest_create(
        self,
        *,
        node: str,
        kind: str,
        vmid: int,
        values: Mapping[str, str | int],
        pool: str = "",
        start: bool = False,
    ) -> str:
        """Start creating guest ``vmid`` on ``node`` from config ``values`` (disks as
        ``<storage>:<GiB>`` or :func:`import_disk_option`); the UPID (``qmcreate``/``vzcreate``).
        The guest exists at once, locked ``create``, and disappears again if the task fails."""
        self._check_kind(kind)
        reserved = {"vmid", "node", "pool", "start"} & set(values)
        if reserved:
            raise ValueError(f"pass {sorted(reserved)} as arguments, not config values")
        params: dict[str, Any] = {**values, "vmid": int(vmid)}
        if pool:
            params["pool"] = pool
        if start:
            params["start"] = 1
        data = self._call("POST", f"/nodes/{node}/{kind}", f"/nodes/{{node}}/{kind}", **params)
        return Upid.parse(data).raw

    def guest_remote_migrate(
        self,
        *,
        node: str,
        kind: str,
        vmid: int,
        target: Endpoint,
        target_vmid: int,
        target_storage: str,
        target_bridge: str,
        online: bool = False,
        delete: bool = False,
    ) -> str:
        """Start moving the guest to another cluster (``target``, reached with its own API
        token); the UPID of the source's ``qmigrate``/``vzmigrate``. ``target_storage`` and
        ``target_bridge`` are PVE id maps (``local-lvm`` or ``src:dst,src2:dst2``);
        ``delete`` removes the source guest once the target runs it."""
        path, template = self._guest_path(node, kind, vmid, "/remote_migrate")
        params: dict[str, Any] = {
            "target-endpoint": remote_endpoint_spec(target),
            "target-vmid": int(target_vmid),
            "target-storage": target_storage,
            "target-bridge": target_bridge,
        }
        if online:
            params["online" if kind == "qemu" else "restart"] = 1
        if delete:
            params["delete"] = 1
        return Upid.parse(self._call("POST", path, template, **params)).raw

    def vzdump(
        self,
        *,
        node: str,
        vmid: int,
        storage: str,
        mode: str = "snapshot",
        compress: str = "zstd",
        notes: str = "",
    ) -> str:
        """Start backing up one guest on ``node`` to ``storage``; the UPID (``vzdump``).
        The archive's volid appears in the storage content once the task ended OK."""
        if mode not in ("snapshot", "suspend", "stop"):
            raise ValueError(f"unknown backup mode {mode!r}")
        params: dict[str, Any] = {
            "vmid": int(vmid),
            "storage": storage,
            "mode": mode,
            "compress": compress,
        }
        if notes:
            params["notes-template"] = notes
        data = self._call("POST", f"/nodes/{node}/vzdump", "/nodes/{node}/vzdump", **params)
        return Upid.parse(data).raw

    def snapshot_rollback(
        self, *, node: str, kind: str, vmid: int, name: str, start: bool = False
    ) -> str:
        """Start rolling the guest back to snapshot ``name``; the UPID
        (``qmrollback``/``vzrollback``). Everything since the snapshot is lost."""
        if not name or name == "current":
            raise ValueError("a snapshot name is required and 'current' is not a snapshot")
        path, template = self._guest_path(
            node, kind, vmid, f"/snapshot/{name}/rollback", "/snapshot/{snapname}/rollback"
        )
        params: dict[str, Any] = {"start": 1} if start else {}
        return Upid.parse(self._call("POST", path, template, **params)).raw

    def node_tasks(
        self,
        *,
        node: str,
        userfilter: str = "",
        typefilter: str = "",
        vmid: int | None = None,
        running_only: bool = False,
        limit: int = 500,
    ) -> list[Task]:
        """Tasks of one node, newest first, filtered by PVE (substring match on user and
        type, as PVE does); ``running_only`` asks for active tasks only."""
        params: dict[str, Any] = {"limit": int(limit)}
        if userfilter:
            params["userfilter"] = userfilter
        if typefilter:
            params["typefilter"] = typefilter
        if vmid is not None:
            params["vmid"] = int(vmid)
        if running_only:
            params["source"] = "active"
        return self._list(f"/nodes/{node}/tasks", Task.from_api, "/nodes/{node}/tasks", **params)

    def user_ensure(self, *, userid: str, comment: str = "") -> bool:
        """Make sure Proxmox user ``userid`` exists; True when this call created it. A
        concurrent create of the same user counts as existing."""
        if any(user.userid == userid for user in self.users()):
            return False
        try:
            self.user_create(userid=userid, comment=comment)
        except errors.ProxmoxServerError as exc:
            if "already exists" not in str(exc):
                raise
            return False
        return True
