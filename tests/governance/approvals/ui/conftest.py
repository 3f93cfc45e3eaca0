"""People, a small estate and owned guests for the approvals pages and API tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role
from governance.ownership.services import ownership_assign
from inventory.models import Node, Storage, VirtualMachine
from inventory.models.clusters import StorageClass
from tests.factories import TeamFactory, UserFactory
from tests.inventory.estate import make_estate


@dataclass
class Scene:
    """``alice`` (ops) owns ``web``; ``manager`` manages ops; ``carol`` (dev) owns nothing."""

    admin: User
    auditor: User
    security: User
    manager: User
    alice: User
    carol: User
    ops: Team
    dev: Team
    estate: dict
    web: VirtualMachine
    old: VirtualMachine
    node2: Node
    approved: Storage
    external: Storage


@pytest.fixture
def scene(db) -> Scene:
    ops, dev = TeamFactory(name="Ops"), TeamFactory(name="Dev")
    admin = UserFactory(username="admin", roles=[Role.ADMIN])
    people = {
        "admin": admin,
        "auditor": UserFactory(username="auditor", roles=[Role.AUDITOR]),
        "security": UserFactory(username="security", roles=[Role.SECURITY_OFFICER]),
        "manager": UserFactory(username="manager", roles=[Role.MANAGER]),
        "alice": UserFactory(username="alice", roles=[Role.END_USER]),
        "carol": UserFactory(username="carol", roles=[Role.END_USER]),
    }
    for team, user, is_manager in [
        (ops, people["manager"], True),
        (ops, people["alice"], False),
        (dev, people["carol"], False),
    ]:
        TeamMembership.objects.create(team=team, user=user, is_manager=is_manager)
    estate = make_estate()
    cluster = estate["cluster"]
    now = timezone.now()
    approved = Storage.objects.get(cluster=cluster, name="local-lvm")
    approved.storage_class = StorageClass.APPROVED
    approved.save(update_fields=["storage_class"])
    external = Storage.objects.create(
        cluster=cluster,
        name="usb-export",
        plugintype="dir",
        content=["backup"],
        storage_class=StorageClass.EXTERNAL,
        first_seen=now,
        last_seen=now,
    )
    web = VirtualMachine.objects.get(cluster=cluster, vmid=100)
    ownership_assign(actor=admin, vm=web, owner=people["alice"], team=ops, reason="test owner")
    return Scene(
        **people,
        ops=ops,
        dev=dev,
        estate=estate,
        web=web,
        old=VirtualMachine.objects.get(cluster=cluster, vmid=101),
        node2=Node.objects.get(cluster=cluster, name="node2"),
        approved=approved,
        external=external,
    )
