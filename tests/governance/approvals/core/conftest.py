"""People in two teams and a small estate (from the ownership suite), plus chain helpers."""

from __future__ import annotations

import uuid
from typing import Any

from governance.approvals.models import ApprovalChain, ApprovalStep, Request
from governance.approvals.services.requests import request_submit
from tests.governance.ownership.conftest import estate, owned, people  # noqa: F401 - fixtures
from tests.shared_fixtures import in_memory_channels, queued  # noqa: F401 - fixtures


def key() -> str:
    return uuid.uuid4().hex


def chain_make(kind: str, *steps: dict[str, Any], **fields: Any) -> ApprovalChain:
    chain = ApprovalChain.objects.create(name=f"{kind}-{key()[:6]}", kind=kind, **fields)
    for position, step in enumerate(steps):
        ApprovalStep.objects.create(chain=chain, position=position, **step)
    return chain


def transfer(who: Any, vms: dict, **extra: Any) -> Request:
    """alice asks to hand ``web`` (ops) to bob; ``extra`` adds parameters."""
    return request_submit(
        requester=who.alice,
        kind="ownership_transfer",
        vm=vms["web"],
        parameters={"owner": who.bob.pk, **extra},
        justification="bob runs it now",
        idempotency_key=key(),
    )
