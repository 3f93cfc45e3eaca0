"""The execution tests run against pvesim with the inventory suite's fixtures."""

import pytest

from governance.accounts.roles import Role
from tests.factories import UserFactory
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
    """Live updates (notifications, progress) go to an in-process layer, not the DB."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def synced(make_sim, cluster_for):  # noqa: F811 - the fixtures imported above
    """A pvesim cluster written with root's token and synced once."""
    return synced_cluster(make_sim, cluster_for)


@pytest.fixture
def alice():
    """An end user who requests things."""
    return UserFactory(username="alice", roles=[Role.END_USER])
