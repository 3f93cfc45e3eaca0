"""/access users, API tokens, groups and roles."""

from __future__ import annotations

from typing import Any

from pvesim.access import BUILTIN_ROLES, Group, Token, User
from pvesim.api.access import REALMS
from pvesim.api.context import Context
from pvesim.api.errors import ApiError
from pvesim.api.router import route
from pvesim.spec.formats import split_list

_USER_FIELDS = ("comment", "email", "firstname", "lastname", "keys")


def _user(ctx: Context, userid: str) -> User:
    user = ctx.cluster.access.users.get(userid)
    if user is None:
        raise ApiError(500, f"user '{userid}' does not exist")
    return user


def _userid_group_allowed(ctx: Context, userid: str, privs: list[str]) -> bool:
    """PVE's ``userid-group`` check: privs on /access/groups or on a group of the user."""
    if ctx.can("/access/groups", privs, any_=True):
        return True
    groups = ctx.cluster.access.user_groups(userid)
    return any(ctx.can(f"/access/groups/{g}", privs, any_=True) for g in groups)


def _check_userid_group(ctx: Context, userid: str, privs: list[str]) -> None:
    if not _userid_group_allowed(ctx, userid, privs):
        raise ApiError(403, f"Permission check failed (/access/groups, {'|'.join(privs)})")


def _check_realm(ctx: Context, userid: str) -> None:
    realm = userid.rsplit("@", 1)[1]
    ctx.check(f"/access/realm/{realm}", "Realm.AllocateUser")
    if realm not in REALMS:
        raise ApiError(500, f"domain '{realm}' does not exist")


def _token_info(token: Token) -> dict[str, Any]:
    info: dict[str, Any] = {"privsep": int(token.privsep), "expire": token.expire}
    if token.comment:
        info["comment"] = token.comment
    return info


def _user_tokens(ctx: Context, userid: str) -> list[Token]:
    return [t for t in ctx.cluster.access.tokens.values() if t.userid == userid]


def _user_item(ctx: Context, user: User, *, full: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "userid": user.userid,
        "enable": int(user.enable),
        "expire": user.expire,
        "realm-type": user.userid.rsplit("@", 1)[1],
    }
    for name in _USER_FIELDS:
        if getattr(user, name):
            item[name] = getattr(user, name)
    if user.groups:
        item["groups"] = ",".join(sorted(user.groups))
    if full:
        item["tokens"] = [
            {"tokenid": t.tokenid, **_token_info(t)} for t in _user_tokens(ctx, user.userid)
        ]
    return item


def _set_groups(ctx: Context, user: User, groups: str, *, append: bool) -> None:
    wanted = set(split_list(groups))
    for groupid in wanted:
        if groupid not in ctx.cluster.access.groups:
            raise ApiError(500, f"no such group '{groupid}'")
    user.groups = (user.groups | wanted) if append else wanted


# ---- users ---------------------------------------------------------------------------------


@route("GET", "/access/users")
def user_list(ctx: Context) -> list[dict[str, Any]]:
    enabled = ctx.params.get("enabled")
    full = ctx.get("full", False)
    items = []
    for user in ctx.cluster.access.users.values():
        if enabled is not None and user.enable != enabled:
            continue
        if user.userid != ctx.user.userid and not _userid_group_allowed(
            ctx, user.userid, ["User.Modify", "Sys.Audit"]
        ):
            continue
        items.append(_user_item(ctx, user, full=full))
    return items


@route("POST", "/access/users")
def user_create(ctx: Context) -> None:
    userid = ctx.params["userid"]
    _check_realm(ctx, userid)
    if "groups" in ctx.params:
        for groupid in split_list(ctx.params["groups"]):
            ctx.check(f"/access/groups/{groupid}", "User.Modify")
    access = ctx.cluster.access
    if userid in access.users:
        raise ApiError(500, f"create user failed: user '{userid}' already exists")
    user = User(
        userid=userid,
        enable=ctx.get("enable", True),
        expire=ctx.params.get("expire", 0),
        password=ctx.params.get("password"),
        **{k: ctx.params[k] for k in _USER_FIELDS if k in ctx.params},
    )
    if "groups" in ctx.params:
        _set_groups(ctx, user, ctx.params["groups"], append=False)
    access.users[userid] = user
    access.changed()


@route("GET", "/access/users/{userid}")
def user_read(ctx: Context) -> dict[str, Any]:
    userid = ctx.params["userid"]
    _check_userid_group(ctx, userid, ["User.Modify", "Sys.Audit"])
    user = _user(ctx, userid)
    item = _user_item(ctx, user, full=False)
    del item["userid"], item["realm-type"]
    item["groups"] = sorted(user.groups)
    item["tokens"] = {t.tokenid: _token_info(t) for t in _user_tokens(ctx, userid)}
    return item


@route("PUT", "/access/users/{userid}")
def user_update(ctx: Context) -> None:
    userid = ctx.params["userid"]
    _check_userid_group(ctx, userid, ["User.Modify"])
    user = _user(ctx, userid)
    for name in _USER_FIELDS:
        if name in ctx.params:
            setattr(user, name, ctx.params[name])
    if "enable" in ctx.params:
        user.enable = ctx.params["enable"]
    if "expire" in ctx.params:
        user.expire = ctx.params["expire"]
    if "groups" in ctx.params:
        _set_groups(ctx, user, ctx.params["groups"], append=ctx.get("append", False))
    ctx.cluster.access.changed()


@route("DELETE", "/access/users/{userid}")
def user_delete(ctx: Context) -> None:
    userid = ctx.params["userid"]
    _check_realm(ctx, userid)
    _check_userid_group(ctx, userid, ["User.Modify"])
    access = ctx.cluster.access
    _user(ctx, userid)
    for token in _user_tokens(ctx, userid):
        del access.tokens[token.full]
        access.acl_forget(type="token", ugid=token.full)
    del access.users[userid]
    access.acl_forget(type="user", ugid=userid)


# ---- tokens --------------------------------------------------------------------------------


def _check_token_owner(ctx: Context, userid: str) -> None:
    """``["or", ["userid-param", "self"], ["userid-group", ["User.Modify"]]]``."""
    if ctx.user.userid == userid:
        return
    _check_userid_group(ctx, userid, ["User.Modify"])


def _token(ctx: Context) -> Token:
    userid, tokenid = ctx.params["userid"], ctx.params["tokenid"]
    _check_token_owner(ctx, userid)
    _user(ctx, userid)
    token = ctx.cluster.access.tokens.get(f"{userid}!{tokenid}")
    if token is None:
        raise ApiError(500, f"no such token '{tokenid}' for user '{userid}'")
    return token


@route("GET", "/access/users/{userid}/token")
def token_list(ctx: Context) -> list[dict[str, Any]]:
    userid = ctx.params["userid"]
    _check_token_owner(ctx, userid)
    _user(ctx, userid)
    return [{"tokenid": t.tokenid, **_token_info(t)} for t in _user_tokens(ctx, userid)]


@route("GET", "/access/users/{userid}/token/{tokenid}")
def token_read(ctx: Context) -> dict[str, Any]:
    return _token_info(_token(ctx))


@route("POST", "/access/users/{userid}/token/{tokenid}")
def token_create(ctx: Context) -> dict[str, Any]:
    userid, tokenid = ctx.params["userid"], ctx.params["tokenid"]
    _check_token_owner(ctx, userid)
    user = _user(ctx, userid)
    access = ctx.cluster.access
    if f"{userid}!{tokenid}" in access.tokens:
        raise ApiError(500, "Token already exists.")
    token = access.token_add(
        userid,
        tokenid,
        privsep=ctx.get("privsep", True),
        expire=ctx.params.get("expire", user.expire),
        comment=ctx.params.get("comment", ""),
    )
    return {"full-tokenid": token.full, "info": _token_info(token), "value": token.secret}


@route("PUT", "/access/users/{userid}/token/{tokenid}")
def token_update(ctx: Context) -> dict[str, Any]:
    token = _token(ctx)
    for key in split_list(ctx.params.get("delete", "")):
        if key == "comment":
            token.comment = ""
        elif key == "expire":
            token.expire = 0
    if "comment" in ctx.params:
        token.comment = ctx.params["comment"]
    if "expire" in ctx.params:
        token.expire = ctx.params["expire"]
    if "privsep" in ctx.params:
        token.privsep = ctx.params["privsep"]
    ctx.cluster.access.changed()
    return _token_info(token)


@route("DELETE", "/access/users/{userid}/token/{tokenid}")
def token_delete(ctx: Context) -> None:
    token = _token(ctx)
    access = ctx.cluster.access
    del access.tokens[token.full]
    access.acl_forget(type="token", ugid=token.full)


# ---- groups --------------------------------------------------------------------------------


def _group(ctx: Context, groupid: str) -> Group:
    group = ctx.cluster.access.groups.get(groupid)
    if group is None:
        raise ApiError(500, f"group '{groupid}' does not exist")
    return group


@route("GET", "/access/groups")
def group_list(ctx: Context) -> list[dict[str, Any]]:
    access = ctx.cluster.access
    items = []
    for group in access.groups.values():
        path = f"/access/groups/{group.groupid}"
        if not ctx.can(path, ["User.Modify", "Sys.Audit", "Group.Allocate"], any_=True):
            continue
        item: dict[str, Any] = {"groupid": group.groupid}
        if group.comment:
            item["comment"] = group.comment
        members = access.group_members(group.groupid)
        if members:
            item["users"] = ",".join(members)
        items.append(item)
    return items


@route("POST", "/access/groups")
def group_create(ctx: Context) -> None:
    groupid = ctx.params["groupid"]
    ctx.check("/access/groups", "Group.Allocate")
    access = ctx.cluster.access
    if groupid in access.groups:
        raise ApiError(500, f"create group failed: group '{groupid}' already exists")
    access.groups[groupid] = Group(groupid, ctx.params.get("comment", ""))
    access.changed()


@route("GET", "/access/groups/{groupid}")
def group_read(ctx: Context) -> dict[str, Any]:
    groupid = ctx.params["groupid"]
    ctx.check(f"/access/groups/{groupid}", ["Sys.Audit", "Group.Allocate"], any_=True)
    group = _group(ctx, groupid)
    item: dict[str, Any] = {"members": ctx.cluster.access.group_members(groupid)}
    if group.comment:
        item["comment"] = group.comment
    return item


@route("PUT", "/access/groups/{groupid}")
def group_update(ctx: Context) -> None:
    groupid = ctx.params["groupid"]
    ctx.check(f"/access/groups/{groupid}", "Group.Allocate")
    group = _group(ctx, groupid)
    if "comment" in ctx.params:
        group.comment = ctx.params["comment"]


@route("DELETE", "/access/groups/{groupid}")
def group_delete(ctx: Context) -> None:
    groupid = ctx.params["groupid"]
    ctx.check(f"/access/groups/{groupid}", "Group.Allocate")
    _group(ctx, groupid)
    access = ctx.cluster.access
    for user in access.users.values():
        user.groups.discard(groupid)
    del access.groups[groupid]
    access.acl_forget(type="group", ugid=groupid)


# ---- roles ---------------------------------------------------------------------------------


def _role(ctx: Context, roleid: str) -> frozenset[str]:
    privs = ctx.cluster.access.roles.get(roleid)
    if privs is None:
        raise ApiError(500, f"role '{roleid}' does not exist")
    return privs


@route("GET", "/access/roles")
def role_list(ctx: Context) -> list[dict[str, Any]]:
    return [
        {"roleid": r, "privs": ",".join(sorted(p)), "special": int(r in BUILTIN_ROLES)}
        for r, p in ctx.cluster.access.roles.items()
    ]


@route("GET", "/access/roles/{roleid}")
def role_read(ctx: Context) -> dict[str, int]:
    return dict.fromkeys(sorted(_role(ctx, ctx.params["roleid"])), 1)


@route("POST", "/access/roles")
def role_create(ctx: Context) -> None:
    ctx.check("/access", "Sys.Modify")
    roleid = ctx.params["roleid"]
    access = ctx.cluster.access
    if roleid in access.roles:
        raise ApiError(500, f"role '{roleid}' already exists")
    access.roles[roleid] = frozenset(split_list(ctx.params.get("privs", "")))
    access.changed()


@route("PUT", "/access/roles/{roleid}")
def role_update(ctx: Context) -> None:
    ctx.check("/access", "Sys.Modify")
    roleid = ctx.params["roleid"]
    current = _role(ctx, roleid)
    if roleid in BUILTIN_ROLES:
        raise ApiError(500, f"cannot modify predefined role '{roleid}'")
    privs = frozenset(split_list(ctx.params.get("privs", "")))
    ctx.cluster.access.roles[roleid] = (current | privs) if ctx.get("append", False) else privs
    ctx.cluster.access.changed()


@route("DELETE", "/access/roles/{roleid}")
def role_delete(ctx: Context) -> None:
    ctx.check("/access", "Sys.Modify")
    roleid = ctx.params["roleid"]
    _role(ctx, roleid)
    if roleid in BUILTIN_ROLES:
        raise ApiError(500, f"cannot delete predefined role '{roleid}'")
    access = ctx.cluster.access
    del access.roles[roleid]
    for key in [k for k, e in access.acl.items() if e.roleid == roleid]:
        del access.acl[key]
    access.changed()
