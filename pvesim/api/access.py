"""/access: tickets, domains, password, ACL and effective permissions.

Users, tokens, groups and roles live in :mod:`pvesim.api.access_users`.
"""

from __future__ import annotations

import re
from typing import Any

from pvesim.access import AclEntry, Identity
from pvesim.api.context import Context
from pvesim.api.errors import ApiError, param_error
from pvesim.api.router import route
from pvesim.spec.formats import split_list

REALMS = {
    "pam": "Linux PAM standard authentication",
    "pve": "Proxmox VE authentication server",
}
ACL_PATH_RE = re.compile(
    r"/|/access(/groups(/[^/]+)?|/realm(/[^/]+)?)?|/nodes(/[^/]+)?|/pool(/[^/]+){0,4}"
    r"|/sdn(/.+)?|/storage(/[^/]+)?|/vms(/[^/]+)?|/mapping(/[^/]+){0,2}"
)
CAP_AREAS = {
    "vms": "/vms",
    "storage": "/storage",
    "access": "/access",
    "nodes": "/nodes",
    "dc": "/",
    "sdn": "/sdn",
    "mapping": "/mapping",
}


def normalize_path(path: str) -> str:
    """PVE's normalize_path: collapse slashes, drop the trailing one."""
    return "/" + "/".join(p for p in path.split("/") if p)


def _auth_failure() -> ApiError:
    # A handler error (JSON body), unlike the auth layer's empty 401s; delayed alike.
    return ApiError(401, "authentication failure", delay=True)


@route("GET", "/access")
def access_index(ctx: Context) -> list[dict[str, str]]:
    subdirs = ["users", "groups", "roles", "acl", "domains", "ticket", "password", "permissions"]
    return [{"subdir": s} for s in subdirs]


@route("GET", "/access/ticket")
def ticket_dummy(ctx: Context) -> None:
    return None


@route("GET", "/access/domains")
def domains(ctx: Context) -> list[dict[str, Any]]:
    return [{"realm": r, "type": r, "comment": c} for r, c in REALMS.items()]


@route("POST", "/access/ticket")
def ticket_create(ctx: Context) -> dict[str, Any]:
    """Log in with a password, or renew by posting a valid ticket as the password."""
    access = ctx.cluster.access
    username = ctx.params["username"]
    if "@" not in username and "realm" in ctx.params:
        username = f"{username}@{ctx.params['realm']}"
    user = access.users.get(username)
    password = ctx.params["password"]
    if user is None or not user.active(ctx.now):
        raise _auth_failure()
    if password.startswith("PVE:"):
        if access.ticket_verify(password, ctx.now) != username:
            raise _auth_failure()
    elif user.password is None or password != user.password:
        raise _auth_failure()
    identity = Identity(username)
    if "path" in ctx.params:
        privs = split_list(ctx.params["privs"])
        if not ctx.cluster.evaluator.has(identity, normalize_path(ctx.params["path"]), privs):
            raise _auth_failure()
        return {"username": username}
    ticket, csrf = access.ticket_create(username, ctx.now)
    cap = {
        area: {
            priv: 1
            for priv in ctx.cluster.evaluator.privileges(identity, path)
            if priv.split(".")[0] in _CAP_PREFIXES[area]
        }
        for area, path in CAP_AREAS.items()
    }
    return {
        "username": username,
        "ticket": ticket,
        "CSRFPreventionToken": csrf,
        "clustername": ctx.cluster.name,
        "cap": cap,
    }


_CAP_PREFIXES = {
    "vms": ("VM", "Permissions"),
    "storage": ("Datastore", "Permissions"),
    "access": ("User", "Group", "Permissions", "Realm"),
    "nodes": ("Sys", "Permissions"),
    "dc": ("Sys", "SDN"),
    "sdn": ("SDN", "Permissions"),
    "mapping": ("Mapping", "Permissions"),
}


@route("PUT", "/access/password")
def password_change(ctx: Context) -> None:
    userid = ctx.params["userid"]
    user = ctx.cluster.access.users.get(userid)
    if userid != ctx.user.userid and not ctx.can("/access/groups", "User.Modify"):
        raise ApiError(403, "Permission check failed")
    if user is None:
        raise ApiError(500, f"user '{userid}' does not exist")
    if userid.endswith("@pam") and not ctx.user.is_root and userid != ctx.user.userid:
        raise ApiError(403, "Permission check failed")
    user.password = ctx.params["password"]


# ---- ACL -----------------------------------------------------------------------------------


def can_modify_perms(ctx: Context, path: str) -> bool:
    """PVE's check_perm_modify: Permissions.Modify, or the matching Allocate privilege."""
    privs = ["Permissions.Modify"]
    if path.startswith("/storage/"):
        privs.append("Datastore.Allocate")
    elif path.startswith("/vms/"):
        privs.append("VM.Allocate")
    elif path.startswith("/pool/"):
        privs.append("Pool.Allocate")
    elif re.fullmatch(r"/mapping/[^/]+/.+", path):
        privs.append("Mapping.Modify")
    return ctx.can(path, privs, any_=True)


@route("GET", "/access/acl")
def acl_list(ctx: Context) -> list[dict[str, Any]]:
    audit = ctx.can("/access", "Sys.Audit")
    items = []
    for entry in ctx.cluster.access.acl.values():
        if not audit and not can_modify_perms(ctx, entry.path):
            continue
        items.append(
            {
                "path": entry.path,
                "type": entry.type,
                "ugid": entry.ugid,
                "roleid": entry.roleid,
                "propagate": int(entry.propagate),
            }
        )
    return items


@route("PUT", "/access/acl")
def acl_update(ctx: Context) -> None:
    access = ctx.cluster.access
    path = normalize_path(ctx.params["path"])
    delete = ctx.get("delete", False)
    propagate = ctx.get("propagate")
    if not can_modify_perms(ctx, path):
        raise ApiError(403, f"Permission check failed ({path}, Permissions.Modify)")
    if not delete and not ACL_PATH_RE.fullmatch(path):
        raise param_error({"path": f"invalid ACL path '{path}'"})
    roles = split_list(ctx.params["roles"])
    held = ctx.cluster.evaluator.privileges(ctx.user, path)
    for roleid in roles:
        if roleid not in access.roles:
            raise ApiError(500, f"role '{roleid}' does not exist")
        if "Permissions.Modify" in held:
            continue
        # Without Permissions.Modify one may only hand out what one holds (and propagate
        # only what propagates to oneself).
        for priv in sorted(access.roles[roleid]):
            if priv not in held or (propagate and not held[priv]):
                raise ApiError(403, f"Permission check failed ({path}, {priv})")
    targets: list[tuple[str, str]] = []
    for userid in split_list(ctx.params.get("users", "")):
        if userid not in access.users:
            raise ApiError(500, f"user '{userid}' does not exist")
        targets.append(("user", userid))
    for groupid in split_list(ctx.params.get("groups", "")):
        if groupid not in access.groups:
            raise ApiError(500, f"group '{groupid}' does not exist")
        targets.append(("group", groupid))
    for tokenid in split_list(ctx.params.get("tokens", "")):
        if tokenid not in access.tokens:
            raise ApiError(500, f"no such token '{tokenid}'")
        targets.append(("token", tokenid))
    for kind, ugid in targets:
        for roleid in roles:
            if delete:
                access.acl_delete(path=path, type=kind, ugid=ugid, roleid=roleid)
            else:
                access.acl_set(AclEntry(path, kind, ugid, roleid, bool(propagate)))


# ---- effective permissions -----------------------------------------------------------------

_STANDARD_PATHS = ("/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms")


@route("GET", "/access/permissions")
def permissions(ctx: Context) -> dict[str, dict[str, int]]:
    caller = ctx.user
    target = Identity.parse(ctx.params.get("userid", caller.full))
    own = target.userid == caller.userid and (caller.tokenid in (None, target.tokenid))
    if not own:
        ctx.check("/access", "Sys.Audit")
    if target.userid not in ctx.cluster.access.users or (
        target.tokenid and target.full not in ctx.cluster.access.tokens
    ):
        raise ApiError(500, f"no such user/token '{target.full}'")
    if "path" in ctx.params:
        paths = [normalize_path(ctx.params["path"])]
    else:
        acl_paths = {e.path for e in ctx.cluster.access.acl.values()}
        paths = sorted(set(_STANDARD_PATHS) | acl_paths)
    result = {}
    for path in paths:
        privs = ctx.cluster.evaluator.privileges(target, path)
        if privs or "path" in ctx.params:
            result[path] = {priv: int(prop) for priv, prop in sorted(privs.items())}
    return result
