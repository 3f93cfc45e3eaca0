"""The engine tests run against pvesim with the inventory suite's fixtures."""

import pytest

from tests.inventory.conftest import (  # noqa: F401 - fixtures
    cluster_for,
    endpoint_for,
    make_sim,
    sim_certificate,
    sim_farm,
)
from tests.policy.enforce.helpers import synced_cluster


@pytest.fixture(autouse=True)
def _in_memory_channels(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Record execution messages instead of writing them to the broker."""
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        "governance.approvals.tasks.execution_advance.apply_async",
        lambda args, kwargs=None, **_: sent.append((args[0], (kwargs or {}).get("ticket"))),
    )
    return sent


@pytest.fixture
def synced(make_sim, cluster_for):  # noqa: F811 - the fixtures imported above
    return synced_cluster(make_sim, cluster_for)
