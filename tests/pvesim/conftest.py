"""Fixtures: pvesim clusters served in-process over real HTTPS on ephemeral ports.

The handle is ``pvesim.testing.RunningSim`` (the one the inventory tests use too), read
here with root@pam's token so tests reach every endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from pvesim.server import RESPONSE_HOOKS, default_certificate
from pvesim.spec.formats import PVE_MAJOR
from pvesim.testing import ROOT_PASSWORD, RunningSim, SimFarm
from pvesim.tls import Certificate
from tests.pvesim.pve_schema import check_returns, returns_of_release

__all__ = ["ROOT_PASSWORD", "Sim"]

#: The name the pvesim tests annotate their ``sim`` fixtures with.
Sim = RunningSim


@pytest.fixture(scope="session")
def certificate() -> Certificate:
    return default_certificate()


@pytest.fixture
def make_sim(certificate: Certificate) -> Iterator[Callable[..., RunningSim]]:
    """Factory: ``make_sim(scenario="small", pve="9", seed=1, guests=None, nodes=None)``
    -> a started cluster read as root@pam.

    The clusters of one test share a frozen clock (speed 0): tests move time explicitly
    with ``sim.advance``.
    """
    farm = SimFarm(certificate=certificate)
    yield partial(farm.start, identity="root")
    farm.stop()


@pytest.fixture
def sim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    """A small PVE 9 cluster (3 nodes, 30 guests) with a frozen clock."""
    return make_sim()


@pytest.fixture(autouse=True)
def _answers_match_returns_schema() -> Iterator[None]:
    """Every successful answer served during any pvesim test must fit the official
    ``returns`` schema of its method (NOTES.md section 14, conformance)."""
    seen: list[tuple[tuple[str, str], Any, int]] = []

    def record(spec: Any, data: Any) -> None:
        seen.append((spec.key, data, PVE_MAJOR.get()))

    RESPONSE_HOOKS.append(record)
    yield
    RESPONSE_HOOKS.remove(record)
    problems = {}
    for key, data, major in seen:
        issues = check_returns(returns_of_release(key, major), data)
        if issues:
            problems[f"{key[0]} {key[1]}"] = issues[:3]
    assert not problems, f"answers violate the official returns schema: {problems}"
