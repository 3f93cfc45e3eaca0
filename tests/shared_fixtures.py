"""Fixtures several suites need, written once. A conftest (or a module) imports the ones
it uses: pytest finds a fixture by the name the importing module binds, so the pvesim
fixtures ``synced`` builds on are imported along with it."""

from __future__ import annotations

import pytest

from tests.inventory.conftest import (  # noqa: F401 - fixtures the importers re-bind
    cluster_for,
    endpoint_for,
    make_sim,
    sim_certificate,
    sim_farm,
)
from tests.policy.enforce.helpers import Synced, synced_cluster


@pytest.fixture
def synced(make_sim, cluster_for) -> Synced:  # noqa: F811 - the fixtures imported above
    """A pvesim cluster read and written with root@pam's token, synced once. A module that
    needs its own storage classes wraps it: a fixture named ``synced`` taking ``synced``."""
    return synced_cluster(make_sim, cluster_for)


@pytest.fixture(autouse=True)
def in_memory_channels(settings) -> None:
    """Live updates (notifications, progress) go to an in-process layer: the tests'
    database guard forbids the SQLite one."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list[int]:
    """Record the ids of queued execution messages instead of writing them to the broker
    (everywhere it is imported: nothing there may reach a broker)."""
    sent: list[int] = []
    monkeypatch.setattr(
        "governance.approvals.tasks.execution_advance.apply_async",
        lambda args, kwargs=None, **_: sent.append(args[0]),
    )
    return sent
