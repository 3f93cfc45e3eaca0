"""The execution tests run against pvesim with the inventory suite's fixtures."""

import pytest

from tests.inventory.conftest import (  # noqa: F401 - fixtures
    cluster_for,
    endpoint_for,
    make_sim,
    sim_certificate,
    sim_farm,
)


@pytest.fixture(autouse=True)
def _in_memory_channels(settings):
    """Live updates (notifications, progress) go to an in-process layer, not the DB."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
