"""The approvals pages' scene (Ops owns ``web``) with known guest sizes, and pvesim."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from governance.approvals.models import TeamQuota
from governance.approvals.services.quota import quota_set
from governance.approvals.services.requests import request_submit
from inventory.models import GuestDisk
from tests.governance.approvals.ui.conftest import scene  # noqa: F401 - fixture
from tests.shared_fixtures import in_memory_channels, queued  # noqa: F401 - fixtures

GIB = 1024**3


@pytest.fixture
def sized(scene):  # noqa: F811 - the fixture imported above
    """Ops owns ``web``: 4 cores, 4096 MiB, a 20 GiB disk (and a CD-ROM, not counted)."""
    scene.web.maxcpu, scene.web.maxmem = 4, 4 * 1024**3
    scene.web.save(update_fields=["maxcpu", "maxmem"])
    GuestDisk.objects.filter(vm=scene.web, is_cdrom=False).update(size=20 * GIB)
    return scene


def limit(people: Any, team: Any, **limits: Any) -> TeamQuota:
    return quota_set(actor=people.admin, team=team, limits=limits)


def provision(people: Any, team: Any = None, **overrides: Any) -> dict[str, Any]:
    return {
        "source": "scratch",
        "name": f"new-{uuid.uuid4().hex[:6]}",
        "node": "node1",
        "storage": "local-lvm",
        "team": (team or people.ops).pk,
        "cores": 2,
        "memory_mib": 2048,
        "disk_gib": 10,
        "classification": "internal",
        **overrides,
    }


def submit(people: Any, kind: str, parameters: dict, *, vm: Any = None, user: Any = None):
    return request_submit(
        requester=user or people.alice,
        kind=kind,
        vm=vm,
        cluster=None if vm is not None else people.estate["cluster"],
        parameters=parameters,
        justification="needed for the release",
        idempotency_key=uuid.uuid4().hex,
    )
