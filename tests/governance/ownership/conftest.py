"""People in teams and a small estate, for the ownership tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role
from tests.factories import TeamFactory, UserFactory
from tests.inventory.conftest import (  # noqa: F401  (pvesim fixtures for the sync tests)
    cluster_for,
    make_sim,
    sim,
    sim_certificate,
    sim_farm,
)
from tests.inventory.estate import make_estate


@dataclass
class People:
    """Two teams; ``manager`` manages ``ops``, ``other_manager`` manages ``dev``."""

    admin: User
    auditor: User
    security: User
    manager: User
    other_manager: User
    alice: User  # end user in ops
    bob: User  # end user in ops
    carol: User  # end user in dev
    ops: Team
    dev: Team


@pytest.fixture
def people(db) -> People:
    ops, dev = TeamFactory(name="Ops"), TeamFactory(name="Dev")
    people = People(
        admin=UserFactory(username="admin", roles=[Role.ADMIN]),
        auditor=UserFactory(username="auditor", roles=[Role.AUDITOR]),
        security=UserFactory(username="security", roles=[Role.SECURITY_OFFICER]),
        manager=UserFactory(username="manager", roles=[Role.MANAGER]),
        other_manager=UserFactory(username="other_manager", roles=[Role.MANAGER]),
        alice=UserFactory(username="alice", roles=[Role.END_USER]),
        bob=UserFactory(username="bob", roles=[Role.END_USER]),
        carol=UserFactory(username="carol", roles=[Role.END_USER]),
        ops=ops,
        dev=dev,
    )
    for team, user, is_manager in [
        (ops, people.manager, True),
        (ops, people.alice, False),
        (ops, people.bob, False),
        (dev, people.other_manager, True),
        (dev, people.carol, False),
    ]:
        TeamMembership.objects.create(team=team, user=user, is_manager=is_manager)
    return people


@pytest.fixture
def estate(db) -> dict:
    """One cluster with ``web`` (vmid 100), ``old`` (101) and ``template`` (9000)."""
    return make_estate()


@pytest.fixture
def owned(people, estate) -> dict:
    """``web`` owned by alice in ops, ``old`` by carol in dev, the template unowned."""
    from tests.governance.ownership.ui_helpers import assign_estate

    return assign_estate(people, estate)
