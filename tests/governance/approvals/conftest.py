"""Every approvals suite may judge or run requests against pvesim: the inventory suite's
simulated clusters and ``synced``, one cluster registered and synced."""

from tests.shared_fixtures import (  # noqa: F401 - fixtures
    cluster_for,
    endpoint_for,
    make_sim,
    sim_certificate,
    sim_farm,
    synced,
)
