"""Fixtures: pvesim clusters served in-process over real HTTPS on ephemeral ports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from pvesim.clock import Clock
from pvesim.cluster import Cluster
from pvesim.scenario import generate
from pvesim.server import RESPONSE_HOOKS, Certificate, ClusterServer, default_certificate
from tests.pvesim.pve_schema import check_returns, schema_index

ROOT_PASSWORD = "pvesim-root"


@dataclass
class Sim:
    """A running simulated cluster and handy clients for it."""

    server: ClusterServer
    token_secret: str
    token_id: str = "root@pam!steward"
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def cluster(self) -> Cluster:
        return self.server.cluster

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base(self) -> str:
        return f"https://{self.host}:{self.port}"

    def api(
        self, method: str, path: str, *, auth: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """A raw API call; ``auth`` defaults to the root token (pass "" for none)."""
        headers = dict(kwargs.pop("headers", {}))
        if auth is None:
            auth = f"PVEAPIToken={self.token_id}={self.token_secret}"
        if auth:
            headers["Authorization"] = auth
        return self.session.request(
            method,
            f"{self.base}/api2/json{path}",
            headers=headers,
            verify=str(self.server.certificate.cert_file),
            **kwargs,
        )

    def token_auth(self, full: str, secret: str) -> str:
        return f"PVEAPIToken={full}={secret}"

    def control(self, method: str, name: str, **body: Any) -> Any:
        response = self.session.request(
            method,
            f"{self.base}/_sim/{name}",
            json=body or None,
            headers={"X-Pvesim-Key": self.cluster.control_key},
            verify=str(self.server.certificate.cert_file),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def advance(self, seconds: float) -> None:
        self.control("POST", "time/advance", seconds=seconds)

    def first_node(self) -> str:
        return next(iter(self.cluster.estate.nodes))


@pytest.fixture(scope="session")
def certificate() -> Certificate:
    return default_certificate()


@pytest.fixture
def make_sim(certificate: Certificate) -> Iterator[Callable[..., Sim]]:
    """Factory: ``make_sim(scenario="small", pve="9", seed=1)`` -> a started :class:`Sim`.

    The clock is frozen (speed 0) so tests move time explicitly with ``sim.advance``.
    """
    servers: list[ClusterServer] = []

    def make(*, scenario: str = "small", pve: str = "9", seed: int = 1, **sizes: Any) -> Sim:
        clock = Clock(start=time.time(), speed=0.0)
        estate = generate(scenario, seed=seed, now=clock.now(), clusters=1, **sizes)[0]
        cluster = Cluster(name=estate.name, estate=estate, clock=clock, profile=pve)
        secret = cluster.bootstrap_access(root_password=ROOT_PASSWORD)
        server = ClusterServer(cluster, certificate=certificate).start()
        servers.append(server)
        return Sim(server=server, token_secret=secret)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Sim]) -> Sim:
    """A small PVE 9 cluster (3 nodes, 30 guests) with a frozen clock."""
    return make_sim()


@pytest.fixture(autouse=True)
def _answers_match_returns_schema() -> Iterator[None]:
    """Every successful answer served during any pvesim test must fit the official
    ``returns`` schema of its method (NOTES.md section 14, conformance)."""
    seen: list[tuple[tuple[str, str], Any]] = []

    def record(spec: Any, data: Any) -> None:
        seen.append((spec.key, data))

    RESPONSE_HOOKS.append(record)
    yield
    RESPONSE_HOOKS.remove(record)
    problems = {}
    for key, data in seen:
        issues = check_returns(schema_index()[key].get("returns", {}), data)
        if issues:
            problems[f"{key[0]} {key[1]}"] = issues[:3]
    assert not problems, f"answers violate the official returns schema: {problems}"
