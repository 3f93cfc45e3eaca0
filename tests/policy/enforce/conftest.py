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


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(settings):
    """Notifications publish live; the tests' database guard forbids the SQLite layer."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
