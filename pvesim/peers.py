"""The clusters this process serves, by address, so one cluster can reach another.

``remote_migrate`` names its target by ``host``/``port`` as a real PVE client would; when
that address is one of our own listeners, the migration lands in that sibling cluster.
:class:`pvesim.server.ClusterServer` registers itself on ``start`` and leaves on ``stop``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pvesim.cluster import Cluster

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "localhost.localdomain"})
WILDCARD = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - addresses compared, not bound

_lock = threading.Lock()
_peers: dict[int, Peer] = {}


@dataclass(frozen=True, slots=True)
class Peer:
    """A served cluster and where it listens (``fingerprint`` in PVE's notation)."""

    cluster: Cluster
    host: str
    port: int
    fingerprint: str

    def answers(self, host: str, port: int) -> bool:
        """Whether a client connecting to ``host:port`` reaches this listener."""
        if port != self.port:
            return False
        host = host.strip("[]").lower()
        if self.host in WILDCARD or host == self.host:
            return True
        return host in LOOPBACK and self.host in LOOPBACK


def peer_add(peer: Peer) -> None:
    with _lock:
        _peers[peer.port] = peer


def peer_remove(port: int) -> None:
    with _lock:
        _peers.pop(port, None)


def peer_find(host: str, port: int) -> Peer | None:
    """The served cluster at ``host:port``, or None (a client would get a connection error)."""
    with _lock:
        peer = _peers.get(port)
    return peer if peer is not None and peer.answers(host, port) else None
