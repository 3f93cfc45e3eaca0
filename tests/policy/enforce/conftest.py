"""The enforcement tests run against pvesim with the inventory suite's fixtures."""

import pytest

from tests.inventory.conftest import (  # noqa: F401 - fixtures
    cluster_for,
    endpoint_for,
    make_sim,
    sim_certificate,
    sim_farm,
)
from tests.policy.enforce.e2e import recorder  # noqa: F401 - fixture
from tests.policy.enforce.helpers import synced_cluster


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(settings):
    """Notifications publish live; the tests' database guard forbids the SQLite layer."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def synced(make_sim, cluster_for):  # noqa: F811 - the fixtures imported above
    """A pvesim cluster written with root's token and synced once (files needing storage
    classes of their own override it)."""
    return synced_cluster(make_sim, cluster_for)
