"""Ownership states shared by the page and API tests."""

from __future__ import annotations

from governance.ownership.services import ownership_assign


def assign_estate(people, estate: dict) -> dict:
    """``web`` owned by alice in ops; ``old`` by carol in dev; the template left unowned."""
    for vm, owner, team in [
        (estate["web"], people.alice, people.ops),
        (estate["old"], people.carol, people.dev),
    ]:
        ownership_assign(actor=people.admin, vm=vm, owner=owner, team=team, reason="r")
    return estate


def client_for(user):
    """A test client signed in as ``user``."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client
