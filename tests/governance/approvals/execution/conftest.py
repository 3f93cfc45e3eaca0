"""The execution tests run against pvesim (fixtures of the approvals conftest)."""

import pytest

from governance.accounts.roles import Role
from tests.factories import UserFactory
from tests.shared_fixtures import in_memory_channels  # noqa: F401 - fixtures


@pytest.fixture
def alice():
    """An end user who requests things."""
    return UserFactory(username="alice", roles=[Role.END_USER])
