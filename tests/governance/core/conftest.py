"""Fixtures for the shared kernel's tests: users holding roles, an in-memory channel layer."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


@pytest.fixture
def make_user(db) -> Callable[..., object]:
    """Create a user holding ``roles`` (role group names); groups are created on demand."""
    counter = iter(range(1, 10_000))

    def make(*roles: str, username: str | None = None, **fields: object) -> object:
        name = username or f"user{next(counter)}"
        user = get_user_model().objects.create_user(
            username=name, password="a-long-test-password", **fields
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def memory_channel_layer(settings):
    """Swap the channel layer for the in-process one: no files, no Redis, no leftovers."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import get_channel_layer

    return get_channel_layer()
