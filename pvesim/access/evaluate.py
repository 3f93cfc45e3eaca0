"""Effective privileges, as PVE::AccessControl::roles and RPCEnvironment::permissions compute
them.

* The path is walked from ``/`` down; at each level the caller's entries replace what was
  inherited: token entries first, else user entries, else the union of group entries. Entries
  above the target count only when they propagate.
* ``NoAccess`` anywhere in the final role set removes every privilege.
* A guest (``/vms/<id>``) or storage in a pool also gets the roles of ``/pool/<pool>``.
* privsep tokens get the intersection of their own privileges and their user's; other
  tokens get their user's.
* root@pam has every privilege.
"""

from __future__ import annotations

from collections.abc import Callable

from pvesim.access.store import AccessStore, Identity
from pvesim.spec.formats import PRIVILEGES

Privs = dict[str, bool]  # privilege -> propagates
_ALL: Privs = dict.fromkeys(PRIVILEGES, True)


class Evaluator:
    """Cached permission evaluation over one :class:`AccessStore`."""

    def __init__(self, store: AccessStore, *, pool_of: Callable[[str], str | None]) -> None:
        self.store = store
        self.pool_of = pool_of
        """Maps an ACL path (``/vms/100``, ``/storage/local``) to the pool holding it."""
        self._version = -1
        self._tree: dict[str, dict[str, dict[str, dict[str, bool]]]] = {}
        self._cache: dict[tuple[str, str, str | None], Privs] = {}

    def _refresh(self) -> None:
        if self._version == self.store.version:
            return
        tree: dict[str, dict[str, dict[str, dict[str, bool]]]] = {}
        for entry in self.store.acl.values():
            level = tree.setdefault(_normalize(entry.path), {})
            level.setdefault(entry.type, {}).setdefault(entry.ugid, {})[entry.roleid] = (
                entry.propagate
            )
        self._tree = tree
        self._cache = {}
        self._version = self.store.version

    def privileges(self, identity: Identity, path: str) -> Privs:
        """Every privilege ``identity`` holds on ``path`` with its propagate flag."""
        if identity.is_root:
            return _ALL
        self._refresh()
        path = _normalize(path)
        # Pool membership lives in the estate and changes without bumping the ACL version,
        # so it is part of the cache key.
        pool = self.pool_of(path)
        key = (identity.full, path, pool)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._compute(identity, path, pool)
        return cached

    def _compute(self, identity: Identity, path: str, pool: str | None) -> Privs:
        user = self.store.users.get(identity.userid)
        if user is None:
            return {}
        if identity.tokenid is not None:
            token = self.store.tokens.get(identity.full)
            if token is None:
                return {}
            user_privs = self.privileges(Identity(identity.userid), path)
            if not token.privsep:
                return user_privs
            token_privs = self._privs_from_roles(self._roles_with_pool(identity, path, pool))
            return {p: prop and user_privs[p] for p, prop in token_privs.items() if p in user_privs}
        if identity.userid == "root@pam":
            return _ALL
        return self._privs_from_roles(self._roles_with_pool(identity, path, pool))

    def _roles_with_pool(self, identity: Identity, path: str, pool: str | None) -> dict[str, bool]:
        roles = self._roles(identity, path)
        if pool is not None:
            for role, propagate in self._roles(identity, f"/pool/{pool}").items():
                roles.setdefault(role, propagate)
        return roles

    def _roles(self, identity: Identity, path: str) -> dict[str, bool]:
        groups = self.store.user_groups(identity.userid)
        roles: dict[str, bool] = {}
        levels = ["/"] + [
            "/" + "/".join(path.strip("/").split("/")[: i + 1])
            for i in range(len(path.strip("/").split("/")))
            if path != "/"
        ]
        for level_path in levels:
            level = self._tree.get(level_path)
            if not level:
                continue
            final = level_path == path
            if identity.tokenid is not None:
                candidates = [level.get("token", {}).get(identity.full)]
            else:
                candidates = [level.get("user", {}).get(identity.userid)]
                merged: dict[str, bool] = {}
                for groupid in groups:
                    merged.update(level.get("group", {}).get(groupid, {}))
                candidates.append(merged)
            for granted in candidates:
                applied = {r: p for r, p in (granted or {}).items() if final or p}
                if applied:
                    roles = applied
                    break
        if "NoAccess" in roles:
            return {"NoAccess": roles["NoAccess"]}
        return roles

    def _privs_from_roles(self, roles: dict[str, bool]) -> Privs:
        if "NoAccess" in roles:
            return {}
        privs: Privs = {}
        for role, propagate in roles.items():
            for priv in self.store.roles.get(role, ()):
                privs[priv] = privs.get(priv, False) or propagate
        return privs

    def is_superuser(self, identity: Identity) -> bool:
        """root@pam, or one of its tokens without privilege separation (every privilege)."""
        if identity.is_root:
            return True
        if identity.userid != "root@pam":
            return False
        token = self.store.tokens.get(identity.full)
        return token is not None and not token.privsep

    def has(self, identity: Identity, path: str, privs: list[str], *, any_: bool = False) -> bool:
        # Fast path: list filtering over 10,000 guests calls this once per guest.
        if self.is_superuser(identity):
            return True
        held = self.privileges(identity, path)
        if any_:
            return any(p in held for p in privs)
        return all(p in held for p in privs)

    def has_anywhere(self, identity: Identity, prefix: str, privs: list[str]) -> bool:
        """Whether any ACL path at or below ``prefix`` grants one of ``privs`` (list checks)."""
        if identity.is_root:
            return True
        self._refresh()
        paths = {prefix} | {p for p in self._tree if p == prefix or p.startswith(prefix + "/")}
        return any(self.has(identity, p, privs, any_=True) for p in paths)


def _normalize(path: str) -> str:
    path = "/" + path.strip("/")
    return path
