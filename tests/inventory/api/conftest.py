"""API clients per role and a small estate (shared with the page tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from governance.accounts.roles import Role
from tests.factories import UserFactory
from tests.inventory.estate import make_estate


@pytest.fixture
def api_for(db) -> Callable[[Role | str], APIClient]:
    def make(role: Role | str) -> APIClient:
        client = APIClient()
        client.force_authenticate(UserFactory(roles=[Role(role)]))
        return client

    return make


@pytest.fixture
def estate(db) -> dict:
    return make_estate()
