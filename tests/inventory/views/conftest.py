"""Clients signed in as each role, and a small estate to look at."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from governance.accounts.roles import Role
from tests.factories import UserFactory
from tests.inventory.estate import make_estate


@pytest.fixture
def client_for(db) -> Callable[[Role | str], Client]:
    def make(role: Role | str) -> Client:
        client = Client()
        client.force_login(UserFactory(roles=[Role(role)]))
        return client

    return make


@pytest.fixture
def estate(db) -> dict:
    return make_estate()
