"""The target side of ``remote_migrate`` as the source sees it before the worker starts:
the ``proxmox-remote`` endpoint, the storage and bridge maps, and the API connection
(``PVE::APIClient::LWP``) whose failures answer HTTP 500 with the client's error."""

from __future__ import annotations

from dataclasses import dataclass

from pvesim.access import Identity
from pvesim.api.errors import ApiError, param_error
from pvesim.peers import Peer, peer_find

TARGET_LOCK_TIMEOUT = 5.0
"""Seconds a step waits for the target cluster's lock before failing as a timeout."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed ``proxmox-remote`` property string."""

    host: str
    port: int
    apitoken: str
    fingerprint: str | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``apitoken=PVEAPIToken=<id>=<secret>,host=<addr>[,fingerprint=<fp>][,port=<n>]``."""
    values: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in {"apitoken", "host", "fingerprint", "port"}:
            raise param_error({"target-endpoint": f"invalid format - unexpected '{part}'"})
        values[key.strip()] = value.strip()
    missing = [key for key in ("apitoken", "host") if not values.get(key)]
    if missing:
        raise param_error({"target-endpoint": f"invalid format - missing {missing[0]}"})
    port = values.get("port", "8006")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise param_error({"target-endpoint": f"invalid format - port '{port}'"})
    return Endpoint(values["host"], int(port), values["apitoken"], values.get("fingerprint"))


def parse_idmap(text: str, name: str) -> dict[str, str]:
    """``parse_idmap``: ``dst`` (everything) or ``src:dst,...``; ``{"*": dst}`` for a default.
    ``1`` (identity) is refused for storages and means "keep" for bridges."""
    if text == "1":
        if name == "target-storage":
            raise ApiError(500, "remote migration requires explicit storage mapping!")
        return {}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        source, sep, target = part.partition(":")
        key, value = (source, target) if sep else ("*", source)
        if not value or key in mapping:
            raise param_error({name: f"failed to parse {name[7:]} map: invalid entry '{part}'"})
        mapping[key] = value
    return mapping


def mapped(mapping: dict[str, str], source: str) -> str:
    return mapping.get(source) or mapping.get("*") or source


def connect(endpoint: Endpoint) -> tuple[Peer, Identity, str]:
    """What ``PVE::APIClient::LWP`` sees of the endpoint before the worker starts: the
    served cluster, the token's identity there and the node that answers."""
    peer = peer_find(endpoint.host, endpoint.port)
    if peer is None:
        raise ApiError(500, f"500 Can't connect to {endpoint.address} (Connection refused)")
    if endpoint.fingerprint and endpoint.fingerprint.upper() != peer.fingerprint.upper():
        raise ApiError(500, f"500 Can't connect to {endpoint.address} (certificate verify failed)")
    full, _, secret = endpoint.apitoken.removeprefix("PVEAPIToken=").partition("=")
    cluster = peer.cluster
    if not cluster.lock.acquire(timeout=TARGET_LOCK_TIMEOUT):
        raise ApiError(500, f"500 Can't connect to {endpoint.address} (Connection timed out)")
    try:
        token = cluster.access.token_verify(full, secret, cluster.now())
        if token is None:
            raise ApiError(500, "401 Authentication failed!")
        node = next((n.name for n in cluster.estate.nodes.values() if n.online), None)
    finally:
        cluster.lock.release()
    if node is None:
        raise ApiError(500, "couldn't determine endpoint's node name")
    return peer, Identity(token.userid, token.tokenid), node
