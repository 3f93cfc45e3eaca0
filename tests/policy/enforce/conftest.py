"""The enforcement tests run against pvesim with the inventory suite's fixtures."""

from tests.inventory.conftest import (  # noqa: F401 - fixtures
    cluster_for,
    endpoint_for,
    make_sim,
    sim_certificate,
    sim_farm,
)
from tests.policy.enforce.e2e import recorder  # noqa: F401 - fixture
