"""Gateway tests run against a pvesim cluster through root's token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from inventory.proxmox import ProxmoxGateway
from pvesim.testing import RunningSim


@pytest.fixture
def root_sim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    return make_sim(identity="root")


@pytest.fixture
def gw(root_sim: RunningSim, endpoint_for: Callable[..., Any]) -> ProxmoxGateway:
    return ProxmoxGateway(endpoint_for(root_sim))
