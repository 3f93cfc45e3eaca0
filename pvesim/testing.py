"""Run simulated clusters in-process for tests and benchmarks of PVE clients.

``SimFarm`` starts any number of clusters over HTTPS on ephemeral loopback ports, all
sharing one certificate and one frozen clock (tests move time explicitly), and gives
each a :class:`RunningSim` handle: connection details, a control-API client and a
raw API client. This module knows nothing about the portal; clients build their own
connection objects from ``url``, ``token_id``, ``token_secret`` and ``cert_file``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from pvesim.access import AclEntry
from pvesim.clock import Clock
from pvesim.cluster import PROFILES, Cluster
from pvesim.scenario import CLUSTER_WORDS, scenario_plan
from pvesim.server import ClusterServer, default_certificate
from pvesim.tls import Certificate

ROOT_PASSWORD = "pvesim-root"  # noqa: S105 - a throwaway simulator password
AUDITOR_USER = "steward@pve"
AUDITOR_TOKEN = "sync"  # noqa: S105 - a token name
ROOT_TOKEN_ID = "root@pam!steward"  # noqa: S105 - a token id, not its secret


class ControlFailed(RuntimeError):
    """The simulator's control API refused a request."""


@dataclass
class RunningSim:
    """One simulated cluster being served; ``token_*`` is the credential clients use."""

    server: ClusterServer
    token_id: str
    token_secret: str = field(repr=False)
    root_token_id: str = ROOT_TOKEN_ID
    root_token_secret: str = field(default="", repr=False)
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    @property
    def cluster(self) -> Cluster:
        return self.server.cluster

    @property
    def name(self) -> str:
        return self.cluster.name

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        """Base URL without the ``/api2/json`` path, as PVE clients are configured."""
        return f"https://{self.host}:{self.port}"

    def first_node(self) -> str:
        return next(iter(self.cluster.estate.nodes))

    @property
    def cert_file(self) -> Path:
        return self.server.certificate.cert_file

    def control(self, method: str, name: str, **body: Any) -> Any:
        """Call ``/_sim/<name>``; raises :class:`ControlFailed` on any non-200 answer."""
        response = self.session.request(
            method,
            f"{self.url}/_sim/{name}",
            json=body or None,
            headers={"X-Pvesim-Key": self.cluster.control_key},
            verify=str(self.cert_file),
            timeout=30,
        )
        if response.status_code != 200:
            raise ControlFailed(f"{method} /_sim/{name}: {response.status_code} {response.text}")
        return response.json()["data"]

    def advance(self, seconds: float) -> float:
        """Move simulated time forward; due task steps are applied."""
        return float(self.control("POST", "time/advance", seconds=seconds)["now"])

    def api(
        self, method: str, path: str, *, auth: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """A raw API call; ``auth`` (an ``Authorization`` value) defaults to root@pam's
        token, as out-of-band admin changes are made; ``""`` sends none."""
        headers = dict(kwargs.pop("headers", {}))
        if auth is None:
            auth = f"PVEAPIToken={self.root_token_id}={self.root_token_secret}"
        if auth:
            headers["Authorization"] = auth
        kwargs.setdefault("timeout", 30)
        return self.session.request(
            method,
            f"{self.url}/api2/json{path}",
            headers=headers,
            verify=str(self.cert_file),
            **kwargs,
        )

    def revoke_token_rights(self) -> None:
        """Remove every ACL entry of the client token (what an admin's cleanup does)."""
        with self.cluster.lock:
            self.cluster.access.acl_forget(type="token", ugid=self.token_id)


class SimFarm:
    """Starts clusters on demand and stops them all in :meth:`stop`.

    Invariant: every cluster of one farm shares ``clock`` and ``certificate``; each
    successive cluster gets the next scenario cluster name (``pve-alpha``, ``pve-bravo``...).
    """

    def __init__(
        self, *, certificate: Certificate | None = None, clock: Clock | None = None
    ) -> None:
        self.certificate = certificate or default_certificate()
        self.clock = clock or Clock(start=time.time(), speed=0.0)
        self.sims: list[RunningSim] = []

    def start(
        self,
        *,
        scenario: str = "small",
        pve: str = "9",
        seed: int = 1,
        guests: int | None = None,
        nodes: int | None = None,
        identity: str = "auditor",
    ) -> RunningSim:
        """Serve one more cluster read as ``identity``: ``auditor`` (privsep token with
        PVEAuditor on /) or ``root`` (root@pam's admin token).

        The auditor token is what Steward's read-only sync should run with; taking its
        ACL away mid-test reproduces "a token that loses rights".
        """
        if pve not in PROFILES:
            raise ValueError(f"unknown PVE profile {pve!r}")
        index = len(self.sims)
        base = scenario_plan(
            scenario,
            seed=seed,
            clusters=1,
            guests=guests,
            nodes=nodes,
            pve_major=PROFILES[pve].major,
        )[0]
        word = CLUSTER_WORDS[index % len(CLUSTER_WORDS)]
        plan = dataclasses.replace(
            base, name=f"pve-{word}{'' if index < len(CLUSTER_WORDS) else index}", index=index
        )
        estate = plan.build(now=self.clock.now())
        cluster = Cluster(name=plan.name, estate=estate, clock=self.clock, profile=pve)
        root_secret = cluster.bootstrap_access(root_password=ROOT_PASSWORD)
        if identity == "root":
            token_id, secret = ROOT_TOKEN_ID, root_secret
        elif identity == "auditor":
            token_id, secret = self._auditor(cluster)
        else:
            raise ValueError("identity must be 'auditor' or 'root'")
        server = ClusterServer(cluster, certificate=self.certificate).start()
        sim = RunningSim(
            server=server, token_id=token_id, token_secret=secret, root_token_secret=root_secret
        )
        self.sims.append(sim)
        return sim

    @staticmethod
    def _auditor(cluster: Cluster) -> tuple[str, str]:
        access = cluster.access
        if AUDITOR_USER not in access.users:
            access.user_add(AUDITOR_USER, comment="Steward sync")
        token = access.token_add(AUDITOR_USER, AUDITOR_TOKEN, privsep=True)
        for ugid, kind in ((AUDITOR_USER, "user"), (token.full, "token")):
            access.acl_set(AclEntry("/", kind, ugid, "PVEAuditor", True))
        return token.full, token.secret

    def stop(self) -> None:
        for sim in self.sims:
            sim.server.stop()
            sim.session.close()
        self.sims.clear()
