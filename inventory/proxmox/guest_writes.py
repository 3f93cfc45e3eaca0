"""Gateway calls that change one guest: config, migration, power, destruction, snapshots,
firewall, tasks.

Every config-like write takes the ``digest`` of the state it was computed from (read
it with the matching getter first), so a change an admin made in between fails with
``ProxmoxDigestMismatch`` instead of being overwritten; callers re-read and decide
again. Calls that start a Proxmox task return its UPID and never wait for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from inventory.proxmox.operations import FirewallOptions, FirewallRule, MigrationCheck
from inventory.proxmox.types import Upid

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


def _digest_required(digest: str) -> str:
    if not digest:
        raise ValueError("a write needs the digest of the state it was computed from")
    return digest


def _upid(data: Any) -> str:
    return Upid.parse(data).raw


class GuestWrites:
    """Mixed into ``ProxmoxGateway``; relies on its ``_call``/``_typed``/``_list``."""

    if TYPE_CHECKING:

        def _call(self, method: str, path: str, template: str = "", /, **params: Any) -> Any: ...

        def _typed(self, parse: Callable[[Any], T], data: Any, *, method: str, path: str) -> T: ...

        def _list(
            self, path: str, parse: Callable[[Any], T], template: str = "", **params: Any
        ) -> list[T]: ...

        @staticmethod
        def _check_kind(kind: str) -> None: ...

    def _guest_path(
        self, node: str, kind: str, vmid: int, tail: str, template_tail: str = ""
    ) -> tuple[str, str]:
        """The concrete path and the template the call counter is keyed by."""
        self._check_kind(kind)
        return (
            f"/nodes/{node}/{kind}/{int(vmid)}{tail}",
            f"/nodes/{{node}}/{kind}/{{vmid}}{template_tail or tail}",
        )

    def guest_config_update(
        self,
        *,
        node: str,
        kind: str,
        vmid: int,
        digest: str,
        values: Mapping[str, str] | None = None,
        delete: Sequence[str] = (),
    ) -> None:
        """Set ``values`` and remove ``delete`` keys in one synchronous ``PUT .../config``.

        On a running guest PVE applies hot-pluggable keys at once and parks the rest as
        pending (applied at the next cold start); ``GET .../config`` shows both.
        """
        values = dict(values or {})
        if not values and not delete:
            raise ValueError("nothing to change")
        if overlap := set(values) & set(delete):
            raise ValueError(f"keys both set and deleted: {sorted(overlap)}")
        path, template = self._guest_path(node, kind, vmid, "/config")
        params: dict[str, Any] = {**values, "digest": _digest_required(digest)}
        if delete:
            params["delete"] = ",".join(delete)
        self._call("PUT", path, template, **params)

    def guest_migrate_check(self, *, node: str, kind: str, vmid: int) -> MigrationCheck:
        """The precondition read before a migration (qemu; LXC on PVE 9 only)."""
        path, template = self._guest_path(node, kind, vmid, "/migrate")
        data = self._call("GET", path, template)
        return self._typed(MigrationCheck.from_api, data, method="GET", path=path)

    def guest_migrate(
        self,
        *,
        node: str,
        kind: str,
        vmid: int,
        target: str,
        online: bool,
        with_local_disks: bool = False,
    ) -> str:
        """Start moving the guest from ``node`` to ``target``; the UPID of ``qmigrate``
        (``vzmigrate``, or ``hamigrate`` for an HA-managed guest). LXC has no live
        migration: ``online`` asks for a restart migration there."""
        path, template = self._guest_path(node, kind, vmid, "/migrate")
        params: dict[str, Any] = {"target": target}
        if online:
            params["online" if kind == "qemu" else "restart"] = 1
        if with_local_disks:
            params["with-local-disks"] = 1
        return _upid(self._call("POST", path, template, **params))

    def guest_start(self, *, node: str, kind: str, vmid: int) -> str:
        """Start a stopped guest (``status/start``); the UPID (``qmstart``/``vzstart``)."""
        path, template = self._guest_path(node, kind, vmid, "/status/start")
        return _upid(self._call("POST", path, template))

    def guest_stop(self, *, node: str, kind: str, vmid: int) -> str:
        """Hard stop (``status/stop``); the UPID (``hastop`` for HA-managed guests)."""
        path, template = self._guest_path(node, kind, vmid, "/status/stop")
        return _upid(self._call("POST", path, template))

    def guest_destroy(self, *, node: str, kind: str, vmid: int) -> str:
        """Start destroying a stopped guest with its disks; the UPID (``qmdestroy``/
        ``vzdestroy``). PVE refuses a running, protected or HA-managed guest at once and a
        locked one in the task."""
        path, template = self._guest_path(node, kind, vmid, "", "")
        return _upid(self._call("DELETE", path, template))

    def snapshot_delete(self, *, node: str, kind: str, vmid: int, name: str) -> str:
        """Start deleting snapshot ``name``; the UPID of ``qmdelsnapshot``/``vzdelsnapshot``."""
        if not name or name == "current":
            raise ValueError("a snapshot name is required and 'current' is not a snapshot")
        path, template = self._guest_path(
            node, kind, vmid, f"/snapshot/{name}", "/snapshot/{snapname}"
        )
        return _upid(self._call("DELETE", path, template))

    def task_stop(self, upid: str) -> None:
        """Ask Proxmox to stop a running task (``DELETE /nodes/{node}/tasks/{upid}``)."""
        node = Upid.parse(upid).node
        self._call("DELETE", f"/nodes/{node}/tasks/{upid}", "/nodes/{node}/tasks/{upid}")

    # Guest firewall ---------------------------------------------------------------------

    def guest_firewall_options(self, *, node: str, kind: str, vmid: int) -> FirewallOptions:
        path, template = self._guest_path(node, kind, vmid, "/firewall/options")
        data = self._call("GET", path, template)
        return self._typed(FirewallOptions.from_api, data, method="GET", path=path)

    def guest_firewall_options_update(
        self,
        *,
        node: str,
        kind: str,
        vmid: int,
        digest: str,
        values: Mapping[str, str | int] | None = None,
        delete: Sequence[str] = (),
    ) -> None:
        """Change firewall options (e.g. ``enable=1``, ``policy_out=DROP``)."""
        values = dict(values or {})
        if not values and not delete:
            raise ValueError("nothing to change")
        path, template = self._guest_path(node, kind, vmid, "/firewall/options")
        params: dict[str, Any] = {**values, "digest": _digest_required(digest)}
        if delete:
            params["delete"] = ",".join(delete)
        self._call("PUT", path, template, **params)

    def guest_firewall_rules(self, *, node: str, kind: str, vmid: int) -> list[FirewallRule]:
        path, template = self._guest_path(node, kind, vmid, "/firewall/rules")
        return self._list(path, FirewallRule.from_api, template)

    def guest_firewall_rule_add(
        self, *, node: str, kind: str, vmid: int, rule: FirewallRule, digest: str, pos: int = 0
    ) -> None:
        """Insert ``rule`` at ``pos`` (0 = top, evaluated first)."""
        path, template = self._guest_path(node, kind, vmid, "/firewall/rules")
        params = {**rule.as_params(), "pos": pos, "digest": _digest_required(digest)}
        self._call("POST", path, template, **params)

    def guest_firewall_rule_delete(
        self, *, node: str, kind: str, vmid: int, pos: int, digest: str
    ) -> None:
        path, template = self._guest_path(
            node, kind, vmid, f"/firewall/rules/{int(pos)}", "/firewall/rules/{pos}"
        )
        self._call("DELETE", path, template, digest=_digest_required(digest))
