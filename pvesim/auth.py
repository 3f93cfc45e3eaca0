"""Who is calling, decided the way pveproxy decides: a ticket cookie (with the CSRF
header on writes) or a ``PVEAPIToken``; every failure is the auth layer's error."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from pvesim.access import Identity
from pvesim.api.errors import ApiError
from pvesim.cluster import Cluster
from pvesim.spec.types import Method


def _cookie(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return unquote(value)
    return None


def authenticate(
    cluster: Cluster, headers: Any, method: str, spec: Method, uri: str, now: float
) -> Identity:
    """Resolve the caller or raise the auth layer's error (401 without body, or 403)."""
    authorization = headers.get("Authorization") or ""
    ticket = _cookie(headers.get("Cookie"), "PVEAuthCookie")
    if ticket is None and authorization.startswith("PVEAuthCookie="):
        ticket = unquote(authorization[len("PVEAuthCookie=") :])
    access = cluster.access
    if ticket is not None:
        userid = access.ticket_verify(ticket, now)
        user = access.users.get(userid) if userid else None
        if user is None or not user.active(now):
            raise ApiError(401, "Authentication failed!", empty_body=True, delay=True)
        if method != "GET":
            csrf = headers.get("CSRFPreventionToken") or ""
            if not access.csrf_verify(csrf, user.userid, now):
                raise ApiError(401, "Permission denied - invalid csrf token", empty_body=True)
        return Identity(user.userid)
    if authorization.startswith("PVEAPIToken"):
        rest = authorization[len("PVEAPIToken") :].lstrip("= ")
        full, sep, secret = rest.partition("=")
        if not sep:
            full, _, secret = rest.partition(" ")
        token = access.token_verify(full, secret, now)
        if token is None:
            raise ApiError(401, "Authentication failed!", empty_body=True, delay=True)
        if not spec.allowtoken:
            raise ApiError(403, f"URI '{uri}' not available with API token, need proper ticket.")
        return Identity(token.userid, token.tokenid)
    raise ApiError(401, "No ticket", empty_body=True)
