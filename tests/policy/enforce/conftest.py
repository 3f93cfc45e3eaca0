"""The enforcement tests run against pvesim with the inventory suite's fixtures."""

import pytest

from tests.policy.enforce.e2e import recorder  # noqa: F401 - fixture
from tests.shared_fixtures import (  # noqa: F401 - fixtures
    cluster_for,
    endpoint_for,
    in_memory_channels,
    make_sim,
    sim_certificate,
    sim_farm,
    synced,
)


@pytest.fixture
def quarantine_hosts(settings):
    """The DNS and patch servers a quarantined guest may still reach, as a site sets them
    (the quarantine group's rules then hold more than the two DROPs)."""
    settings.STEWARD_QUARANTINE_DNS_HOSTS = ["10.0.0.53"]
    settings.STEWARD_QUARANTINE_PATCH_HOSTS = ["10.0.0.80"]
