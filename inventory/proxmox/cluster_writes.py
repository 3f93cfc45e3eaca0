"""Gateway calls that change cluster-wide configuration: HA placement, backup jobs,
firewall security groups, ACL entries, roles and users.

PVE guards each section file (HA rules, groups, firewall groups, backup jobs) with a
digest of the whole file; where a caller passes the ``digest`` it read, a concurrent
edit fails with ``ProxmoxDigestMismatch`` instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from inventory.proxmox.operations import FirewallRule, Role, SecurityGroup, User
from inventory.proxmox.types import Upid

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


def _optional(**params: Any) -> dict[str, Any]:
    """Drop unset (``None``/empty) parameters: PVE treats a present empty value as a change."""
    return {k: v for k, v in params.items() if v not in (None, "")}


def _join(items: Sequence[str | int]) -> str:
    return ",".join(str(i) for i in items)


class ClusterWrites:
    """Mixed into ``ProxmoxGateway``; relies on its ``_call``/``_list``."""

    if TYPE_CHECKING:

        def _call(self, method: str, path: str, template: str = "", /, **params: Any) -> Any: ...

        def _list(
            self, path: str, parse: Callable[[Any], T], template: str = "", **params: Any
        ) -> list[T]: ...

    # HA placement -----------------------------------------------------------------------

    def ha_rule_create(
        self,
        *,
        rule: str,
        resources: Sequence[str],
        nodes: Sequence[str],
        strict: bool = True,
        comment: str = "",
    ) -> None:
        """A PVE 9 ``node-affinity`` rule keeping ``resources`` (``vm:100``) on ``nodes``.

        The resources must already be HA-managed (PVE refuses unmanaged ones)."""
        self._call(
            "POST",
            "/cluster/ha/rules",
            **_optional(
                rule=rule,
                type="node-affinity",
                resources=_join(resources),
                nodes=_join(nodes),
                strict=int(strict),
                comment=comment,
            ),
        )

    def ha_rule_update(
        self,
        *,
        rule: str,
        resources: Sequence[str],
        nodes: Sequence[str],
        strict: bool = True,
        digest: str = "",
    ) -> None:
        self._call(
            "PUT",
            f"/cluster/ha/rules/{rule}",
            "/cluster/ha/rules/{rule}",
            **_optional(
                type="node-affinity",
                resources=_join(resources),
                nodes=_join(nodes),
                strict=int(strict),
                digest=digest,
            ),
        )

    def ha_group_create(
        self, *, group: str, nodes: Sequence[str], restricted: bool = True, comment: str = ""
    ) -> None:
        """A PVE 8 HA group; ``restricted`` keeps its resources off every other node."""
        self._call(
            "POST",
            "/cluster/ha/groups",
            **_optional(
                group=group, nodes=_join(nodes), restricted=int(restricted), comment=comment
            ),
        )

    def ha_group_update(
        self, *, group: str, nodes: Sequence[str], restricted: bool = True, digest: str = ""
    ) -> None:
        self._call(
            "PUT",
            f"/cluster/ha/groups/{group}",
            "/cluster/ha/groups/{group}",
            **_optional(nodes=_join(nodes), restricted=int(restricted), digest=digest),
        )

    def ha_resource_update(self, *, sid: str, group: str, digest: str = "") -> None:
        """Put an HA resource into ``group`` (PVE 8; PVE 9 refuses groups)."""
        self._call(
            "PUT",
            f"/cluster/ha/resources/{sid}",
            "/cluster/ha/resources/{sid}",
            **_optional(group=group, digest=digest),
        )

    # Backup jobs ------------------------------------------------------------------------

    def backup_job_update(
        self,
        *,
        job_id: str,
        exclude: Sequence[int] | None = None,
        vmids: Sequence[int] | None = None,
        digest: str = "",
    ) -> None:
        """Change which guests a job selects: ``exclude`` (for ``all``/pool jobs) or the
        explicit ``vmids``; an empty ``exclude`` removes the key."""
        params: dict[str, Any] = _optional(digest=digest)
        delete = []
        if exclude is not None:
            if exclude:
                params["exclude"] = _join(sorted(set(exclude)))
            else:
                delete.append("exclude")
        if vmids is not None:
            if not vmids:
                raise ValueError("a vmids job needs at least one guest; disable it instead")
            params["vmid"] = _join(sorted(set(vmids)))
        if delete:
            params["delete"] = _join(delete)
        if not params.keys() - {"digest"}:
            raise ValueError("nothing to change")
        self._call("PUT", f"/cluster/backup/{job_id}", "/cluster/backup/{id}", **params)

    def storage_volume_delete(self, *, node: str, storage: str, volid: str) -> str:
        """Start deleting a volume (a backup, an image no guest uses); the UPID (``imgdel``).

        ``node`` is any node that sees the storage (for shared storage, any online one).
        """
        if not volid.startswith(f"{storage}:"):
            raise ValueError(f"volume {volid!r} is not on storage {storage!r}")
        data = self._call(
            "DELETE",
            # A volid holds slashes (``local:backup/vzdump-...``): one path segment.
            f"/nodes/{node}/storage/{storage}/content/{quote(volid, safe='')}",
            "/nodes/{node}/storage/{storage}/content/{volume}",
        )
        return Upid.parse(data).raw

    # Firewall security groups ------------------------------------------------------------

    def security_groups(self) -> list[SecurityGroup]:
        return self._list("/cluster/firewall/groups", SecurityGroup.from_api)

    def security_group_create(self, *, group: str, comment: str = "", digest: str = "") -> None:
        self._call(
            "POST",
            "/cluster/firewall/groups",
            **_optional(group=group, comment=comment, digest=digest),
        )

    def security_group_rules(self, *, group: str) -> list[FirewallRule]:
        return self._list(
            f"/cluster/firewall/groups/{group}",
            FirewallRule.from_api,
            "/cluster/firewall/groups/{group}",
        )

    def security_group_rule_add(
        self, *, group: str, rule: FirewallRule, digest: str = "", pos: int | None = None
    ) -> None:
        """Insert ``rule`` into ``group`` (at the top unless ``pos`` is given)."""
        self._call(
            "POST",
            f"/cluster/firewall/groups/{group}",
            "/cluster/firewall/groups/{group}",
            **rule.as_params(),
            **_optional(digest=digest, pos=pos),
        )

    def security_group_rule_delete(self, *, group: str, pos: int, digest: str = "") -> None:
        self._call(
            "DELETE",
            f"/cluster/firewall/groups/{group}/{int(pos)}",
            "/cluster/firewall/groups/{group}/{pos}",
            **_optional(digest=digest),
        )

    # Access control ---------------------------------------------------------------------

    def acl_put(
        self,
        *,
        path: str,
        role: str,
        users: Sequence[str] = (),
        groups: Sequence[str] = (),
        tokens: Sequence[str] = (),
        propagate: bool = True,
    ) -> None:
        """Grant ``role`` on ``path`` to the given users, groups and tokens."""
        self._acl_write(path, role, users, groups, tokens, propagate=int(propagate))

    def acl_delete(
        self,
        *,
        path: str,
        role: str,
        users: Sequence[str] = (),
        groups: Sequence[str] = (),
        tokens: Sequence[str] = (),
    ) -> None:
        """Remove exactly the entries (``role`` on ``path`` for each named holder)."""
        self._acl_write(path, role, users, groups, tokens, delete=1)

    def _acl_write(
        self,
        path: str,
        role: str,
        users: Sequence[str],
        groups: Sequence[str],
        tokens: Sequence[str],
        **mode: int,
    ) -> None:
        # PVE grants and removes ACL entries through the same PUT; ``delete=1`` removes.
        if not (users or groups or tokens):
            raise ValueError("an ACL entry needs a user, group or token")
        self._call(
            "PUT",
            "/access/acl",
            **_optional(
                path=path,
                roles=role,
                users=_join(users),
                groups=_join(groups),
                tokens=_join(tokens),
                **mode,
            ),
        )

    def roles(self) -> list[Role]:
        return self._list("/access/roles", Role.from_api)

    def role_create(self, *, roleid: str, privs: Sequence[str]) -> None:
        self._call("POST", "/access/roles", roleid=roleid, privs=_join(sorted(set(privs))))

    def role_update(self, *, roleid: str, privs: Sequence[str]) -> None:
        """Replace the role's privileges with exactly ``privs``."""
        self._call(
            "PUT",
            f"/access/roles/{roleid}",
            "/access/roles/{roleid}",
            privs=_join(sorted(set(privs))),
            append=0,
        )

    def users(self) -> list[User]:
        return self._list("/access/users", User.from_api)

    def user_create(self, *, userid: str, comment: str = "", enabled: bool = True) -> None:
        """Create a user without a password (Steward only grants it rights; people log in
        through the realm it belongs to)."""
        if "@" not in userid:
            raise ValueError("a Proxmox user id looks like name@realm")
        self._call(
            "POST",
            "/access/users",
            **_optional(userid=userid, comment=comment, enable=int(enabled)),
        )
