"""Users, groups, API tokens, roles, ACL entries and tickets of one cluster.

State only; permission evaluation lives in :mod:`pvesim.access.evaluate`. Every mutation
bumps ``version`` so cached evaluations are dropped. Passwords are kept in clear because
this is a simulator whose credentials are printed to the ``--info`` file anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from pvesim.access.roles import BUILTIN_ROLES, builtin_roles

TICKET_LIFETIME = 7200  # seconds, PVE's ticket and CSRF token lifetime


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: a user, or one of their API tokens."""

    userid: str
    tokenid: str | None = None

    @property
    def full(self) -> str:
        """``user@realm`` or ``user@realm!token`` as PVE writes it into UPIDs and ACLs."""
        return f"{self.userid}!{self.tokenid}" if self.tokenid else self.userid

    @property
    def is_root(self) -> bool:
        return self.userid == "root@pam" and self.tokenid is None

    @classmethod
    def parse(cls, text: str) -> Identity:
        userid, _, tokenid = text.partition("!")
        return cls(userid, tokenid or None)


@dataclass(slots=True)
class User:
    """A PVE user; ``expire`` 0 means never, epoch seconds otherwise."""

    userid: str
    enable: bool = True
    expire: int = 0
    password: str | None = None
    groups: set[str] = field(default_factory=set)
    comment: str = ""
    email: str = ""
    firstname: str = ""
    lastname: str = ""
    keys: str = ""

    def active(self, now: float) -> bool:
        return self.enable and (self.expire == 0 or self.expire > now)


@dataclass(slots=True)
class Token:
    """An API token; ``privsep`` tokens get the intersection of user and token ACLs."""

    userid: str
    tokenid: str
    secret: str
    privsep: bool = True
    expire: int = 0
    comment: str = ""

    @property
    def full(self) -> str:
        return f"{self.userid}!{self.tokenid}"

    def active(self, now: float) -> bool:
        return self.expire == 0 or self.expire > now


@dataclass(slots=True)
class Group:
    groupid: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class AclEntry:
    """One ``(path, type, ugid) -> role`` grant; ``propagate`` lets it apply below ``path``."""

    path: str
    type: str  # user | group | token
    ugid: str
    roleid: str
    propagate: bool = True


class AccessStore:
    """All access-control state; callers hold the cluster lock."""

    def __init__(self, *, secret: bytes | None = None, major: int = 9) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.tokens: dict[str, Token] = {}  # key: user@realm!tokenid
        self.roles: dict[str, frozenset[str]] = dict(builtin_roles(major))
        self.acl: dict[tuple[str, str, str, str], AclEntry] = {}
        self.version = 0

    def changed(self) -> None:
        """Invalidate permission caches after any mutation."""
        self.version += 1

    # ---- users, tokens, groups ---------------------------------------------------------

    def user_add(self, userid: str, **fields: Any) -> User:
        user = User(userid=userid, **fields)
        self.users[userid] = user
        self.changed()
        return user

    def token_add(
        self, userid: str, tokenid: str, *, privsep: bool = True, expire: int = 0, comment: str = ""
    ) -> Token:
        token = Token(
            userid=userid,
            tokenid=tokenid,
            secret=str(uuid.uuid4()),
            privsep=privsep,
            expire=expire,
            comment=comment,
        )
        self.tokens[token.full] = token
        self.changed()
        return token

    def token_verify(self, full: str, secret: str, now: float) -> Token | None:
        """The enabled, unexpired token ``user@realm!name`` of an active user whose secret
        is ``secret``; None for anything else (PVE answers all of them alike)."""
        token = self.tokens.get(full.strip())
        user = self.users.get(token.userid) if token is not None else None
        if token is None or user is None or not user.active(now) or not token.active(now):
            return None
        return token if hmac.compare_digest(secret.strip(), token.secret) else None

    def user_groups(self, userid: str) -> set[str]:
        user = self.users.get(userid)
        return set(user.groups) if user else set()

    def group_members(self, groupid: str) -> list[str]:
        return sorted(u.userid for u in self.users.values() if groupid in u.groups)

    # ---- ACL ---------------------------------------------------------------------------

    def acl_set(self, entry: AclEntry) -> None:
        self.acl[(entry.path, entry.type, entry.ugid, entry.roleid)] = entry
        self.changed()

    def acl_delete(self, *, path: str, type: str, ugid: str, roleid: str) -> None:
        if self.acl.pop((path, type, ugid, roleid), None) is not None:
            self.changed()

    def acl_forget(self, *, type: str, ugid: str) -> None:
        """Drop every entry of a deleted user/group/token, as PVE does."""
        for key in [k for k, e in self.acl.items() if e.type == type and e.ugid == ugid]:
            del self.acl[key]
        self.changed()

    def acl_by_path(self) -> dict[str, list[AclEntry]]:
        by_path: dict[str, list[AclEntry]] = {}
        for entry in self.acl.values():
            by_path.setdefault(entry.path, []).append(entry)
        return by_path

    # ---- tickets -----------------------------------------------------------------------

    def _sign(self, text: str) -> str:
        digest = hmac.new(self.secret, text.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode().rstrip("=")

    def ticket_create(self, userid: str, now: float) -> tuple[str, str]:
        """A ``PVE:<user>:<hex time>::<sig>`` ticket and its CSRF prevention token."""
        stamp = f"{int(now):08X}"
        plain = f"PVE:{userid}:{stamp}"
        ticket = f"{plain}::{self._sign(plain)}"
        return ticket, f"{stamp}:{self._sign(f'{stamp}:{userid}')}"

    def ticket_verify(self, ticket: str, now: float) -> str | None:
        """The user a valid, unexpired ticket names, else None."""
        plain, sep, signature = ticket.partition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE":
            return None
        if not hmac.compare_digest(self._sign(plain), signature):
            return None
        try:
            age = now - int(parts[2], 16)
        except ValueError:
            return None
        if age > TICKET_LIFETIME or age < -300:
            return None
        return parts[1]

    def csrf_verify(self, token: str, userid: str, now: float) -> bool:
        stamp, _, signature = token.partition(":")
        try:
            age = now - int(stamp, 16)
        except ValueError:
            return False
        expected = self._sign(f"{stamp}:{userid}")
        return hmac.compare_digest(expected, signature) and -300 <= age <= TICKET_LIFETIME

    # ---- persistence -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "secret": base64.b64encode(self.secret).decode(),
            "users": [{**asdict(u), "groups": sorted(u.groups)} for u in self.users.values()],
            "groups": [asdict(g) for g in self.groups.values()],
            "tokens": [asdict(t) for t in self.tokens.values()],
            "roles": {r: sorted(p) for r, p in self.roles.items() if r not in BUILTIN_ROLES},
            "acl": [asdict(e) for e in self.acl.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, major: int = 9) -> AccessStore:
        store = cls(secret=base64.b64decode(data["secret"]), major=major)
        for item in data.get("users", []):
            store.users[item["userid"]] = User(**{**item, "groups": set(item["groups"])})
        for item in data.get("groups", []):
            store.groups[item["groupid"]] = Group(**item)
        for item in data.get("tokens", []):
            token = Token(**item)
            store.tokens[token.full] = token
        for roleid, privs in data.get("roles", {}).items():
            store.roles[roleid] = frozenset(privs)
        for item in data.get("acl", []):
            store.acl_set(AclEntry(**item))
        return store
