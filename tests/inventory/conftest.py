"""Fixtures: simulated Proxmox clusters over real HTTPS, and the portal objects for them.

``make_sim(scenario="small", pve="9", seed=1, guests=None, nodes=None, identity="auditor")``
starts one more cluster (each call gets the next name: pve-alpha, pve-bravo, ...), all on
one frozen clock; move time with ``sim.advance(seconds)`` and change things out of band
with ``sim.control("POST", "<action>", ...)`` or ``sim.api("PUT", "/access/acl", ...)``.
``endpoint_for(sim)`` gives an ``inventory.proxmox.Endpoint`` pinned to the sim's
certificate; ``cluster_for(sim)`` registers an ``inventory.models.Cluster`` row (needs db).
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from inventory.proxmox import Endpoint
from pvesim.server import default_certificate
from pvesim.testing import RunningSim, SimFarm
from pvesim.tls import Certificate


def fingerprint_of_file(cert_file: Any) -> str:
    """SHA-256 of the DER certificate in ``cert_file``, as lowercase hex (what we pin)."""
    with open(cert_file) as handle:
        der = ssl.PEM_cert_to_DER_cert(handle.read())
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="session")
def sim_certificate() -> Certificate:
    return default_certificate()


@pytest.fixture
def sim_farm(sim_certificate: Certificate) -> Iterator[SimFarm]:
    farm = SimFarm(certificate=sim_certificate)
    yield farm
    farm.stop()


@pytest.fixture
def make_sim(sim_farm: SimFarm) -> Callable[..., RunningSim]:
    """Factory starting one simulated cluster per call (see the module docstring)."""
    return sim_farm.start


@pytest.fixture
def sim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    """A small PVE 9 cluster (3 nodes, 30 guests), read with a privsep auditor token."""
    return make_sim()


def _endpoint(sim: RunningSim, **overrides: Any) -> Endpoint:
    settings: dict[str, Any] = {
        "url": sim.url,
        "token_id": sim.token_id,
        "token_secret": sim.token_secret,
        "fingerprint": fingerprint_of_file(sim.cert_file),
        "timeout": 5.0,
    }
    settings.update(overrides)
    return Endpoint(**settings)


@pytest.fixture
def endpoint_for() -> Callable[..., Endpoint]:
    """``endpoint_for(sim, **overrides)`` -> an Endpoint with the sim's pinned fingerprint."""
    return _endpoint


@pytest.fixture
def cluster_for(db: None) -> Callable[..., Any]:
    """``cluster_for(sim, **fields)`` -> a saved ``inventory.models.Cluster`` for the sim."""
    from inventory.models import Cluster

    def register(sim: RunningSim, **fields: Any) -> Cluster:
        values: dict[str, Any] = {
            "name": sim.name,
            "api_url": sim.url,
            "token_id": sim.token_id,
            "token_secret": sim.token_secret,
            "fingerprint": fingerprint_of_file(sim.cert_file),
        }
        values.update(fields)
        return Cluster.objects.create(**values)

    return register
