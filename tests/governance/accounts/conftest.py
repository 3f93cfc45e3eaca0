"""Fixtures for the accounts tests: signed-in clients per role."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.accounts.roles import Role
from tests.factories import UserFactory


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", roles=[Role.ADMIN])


@pytest.fixture
def end_user(db):
    return UserFactory(username="eve", roles=[Role.END_USER])


@pytest.fixture
def client_for():
    def signed_in(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return signed_in


@pytest.fixture
def otp_clock(monkeypatch):
    """Freeze the clock django-otp computes and checks TOTP codes with."""
    from django_otp import oath

    from tests.governance.accounts.mfa_helpers import Clock

    clock = Clock()
    monkeypatch.setattr(oath, "time", clock)
    return clock
