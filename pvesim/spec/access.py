"""Declarations: /access (tickets, users, tokens, groups, roles, ACL, permissions)."""

from pvesim.spec.types import Method

_NAME = r"(?:[A-Za-z][A-Za-z0-9\.\-_]+)"
AUTH_ID_RE = rf"(?:^(?:[^\s:/]+)\@{_NAME}(?:!{_NAME})?$)"

METHODS = [
    Method(
        "GET",
        "/access/ticket",
        {},
        world=True,
    ),
    Method(
        "POST",
        "/access/ticket",
        {
            "new-format": "?bool =1",
            "otp": "?str",
            "password": "str",
            "path": "?str len:..64 req:privs",
            "privs": "?str len:..64 fmt:pve-priv-list req:path",
            "realm": "?str len:..32 fmt:pve-realm",
            "tfa-challenge": "?str",
            "username": "str len:..64",
        },
        world=True,
        allowtoken=False,
    ),
    Method(
        "GET",
        "/access",
        {},
    ),
    Method(
        "GET",
        "/access/domains",
        {},
        world=True,
    ),
    Method(
        "PUT",
        "/access/password",
        {
            "confirmation-password": "?str len:5..64",
            "password": "str len:8..64",
            "userid": "str len:..64 fmt:pve-userid",
        },
        allowtoken=False,
    ),
    Method(
        "GET",
        "/access/acl",
        {},
    ),
    Method(
        "PUT",
        "/access/acl",
        {
            "delete": "?bool",
            "groups": "?str fmt:pve-groupid-list",
            "path": "str",
            "propagate": "?bool =1",
            "roles": "str fmt:pve-roleid-list",
            "tokens": "?str fmt:pve-tokenid-list",
            "users": "?str fmt:pve-userid-list",
        },
    ),
    Method(
        "GET",
        "/access/permissions",
        {
            "path": "?str",
            "userid": f"?str re:{AUTH_ID_RE}",
        },
    ),
    Method(
        "GET",
        "/access/users",
        {
            "enabled": "?bool",
            "full": "?bool =0",
        },
    ),
    Method(
        "POST",
        "/access/users",
        {
            "comment": "?str len:..2048",
            "email": "?str len:..254 fmt:email-opt",
            "enable": "?bool =1",
            "expire": "?int 0..",
            "firstname": "?str len:..1024",
            "groups": "?str fmt:pve-groupid-list",
            "keys": "?str re:[0-9a-zA-Z!=]{0,4096}",
            "lastname": "?str len:..1024",
            "password": "?str len:8..64",
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "GET",
        "/access/users/{userid}",
        {
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "PUT",
        "/access/users/{userid}",
        {
            "append": "?bool req:groups",
            "comment": "?str len:..2048",
            "email": "?str len:..254 fmt:email-opt",
            "enable": "?bool =1",
            "expire": "?int 0..",
            "firstname": "?str len:..1024",
            "groups": "?str fmt:pve-groupid-list",
            "keys": "?str re:[0-9a-zA-Z!=]{0,4096}",
            "lastname": "?str len:..1024",
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "DELETE",
        "/access/users/{userid}",
        {
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "GET",
        "/access/users/{userid}/token",
        {
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "GET",
        "/access/users/{userid}/token/{tokenid}",
        {
            "tokenid": "str re:(?:[A-Za-z][A-Za-z0-9\\.\\-_]+)",
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "POST",
        "/access/users/{userid}/token/{tokenid}",
        {
            "comment": "?str",
            "expire": "?int 0..",
            "privsep": "?bool =1",
            "tokenid": "str re:(?:[A-Za-z][A-Za-z0-9\\.\\-_]+)",
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "PUT",
        "/access/users/{userid}/token/{tokenid}",
        {
            "comment": "?str",
            "delete": "?str fmt:pve-configid-list",
            "expire": "?int 0..",
            "privsep": "?bool =1",
            "tokenid": "str re:(?:[A-Za-z][A-Za-z0-9\\.\\-_]+)",
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "DELETE",
        "/access/users/{userid}/token/{tokenid}",
        {
            "tokenid": "str re:(?:[A-Za-z][A-Za-z0-9\\.\\-_]+)",
            "userid": "str len:..64 fmt:pve-userid",
        },
    ),
    Method(
        "GET",
        "/access/roles",
        {},
    ),
    Method(
        "POST",
        "/access/roles",
        {
            "privs": "?str fmt:pve-priv-list",
            "roleid": "str fmt:pve-roleid",
        },
    ),
    Method(
        "GET",
        "/access/roles/{roleid}",
        {
            "roleid": "str fmt:pve-roleid",
        },
    ),
    Method(
        "PUT",
        "/access/roles/{roleid}",
        {
            "append": "?bool req:privs",
            "privs": "?str fmt:pve-priv-list",
            "roleid": "str fmt:pve-roleid",
        },
    ),
    Method(
        "DELETE",
        "/access/roles/{roleid}",
        {
            "roleid": "str fmt:pve-roleid",
        },
    ),
    Method(
        "GET",
        "/access/groups",
        {},
    ),
    Method(
        "POST",
        "/access/groups",
        {
            "comment": "?str",
            "groupid": "str fmt:pve-groupid",
        },
    ),
    Method(
        "GET",
        "/access/groups/{groupid}",
        {
            "groupid": "str fmt:pve-groupid",
        },
    ),
    Method(
        "PUT",
        "/access/groups/{groupid}",
        {
            "comment": "?str",
            "groupid": "str fmt:pve-groupid",
        },
    ),
    Method(
        "DELETE",
        "/access/groups/{groupid}",
        {
            "groupid": "str fmt:pve-groupid",
        },
    ),
]
