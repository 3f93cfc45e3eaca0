"""People, a small estate and policy records around it, for the policy page and API tests.

``web`` (owned by alice, team ops) has an open host-pinning violation with a finished
remediation run, a resolved one, an open quarantine and an exemption; ``old`` (owned by
carol, team dev) has an open violation alice must never see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.ownership.services import ownership_assign
from policy.models import (
    Exemption,
    Policy,
    Quarantine,
    Remediation,
    Violation,
)
from policy.services import policy_save
from tests.governance.ownership.conftest import People, estate, people  # noqa: F401


@dataclass
class PolicyRecords:
    policy: Policy
    open: Violation
    resolved: Violation
    hidden: Violation
    run: Remediation
    quarantine: Quarantine
    exemption: Exemption


def make_policy(*, actor, name: str = "pin-web", **fields) -> Policy:
    """A policy saved through the service (validated, version 1, audited)."""
    document = {
        "name": name,
        "kind": "host_pinning",
        "mode": "enforce",
        "scope": {"clusters": ["pve-test"]},
        "parameters": {"allowed_nodes": ["node1"]},
        **fields,
    }
    return policy_save(actor=actor, document=document, comment="first")


@pytest.fixture
def records(people: People, estate: dict) -> PolicyRecords:  # noqa: F811
    now = timezone.now()
    web, old = estate["web"], estate["old"]
    ownership_assign(actor=people.admin, vm=web, owner=people.alice, team=people.ops, reason="test")
    ownership_assign(actor=people.admin, vm=old, owner=people.carol, team=people.dev, reason="t")
    policy = make_policy(actor=people.security)

    def violation(vm, key, **fields) -> Violation:
        values = {
            "summary": f"runs on node2, allowed: node1 ({key})",
            "evidence": {"node": "node2", "allowed_nodes": ["node1"]},
            "first_detected": now - timedelta(hours=2),
            "last_seen": now,
        }
        values.update(fields)
        return Violation.objects.create(
            policy=policy, cluster=vm.cluster, vm=vm, rule_key=key, **values
        )

    open_violation = violation(web, "node", remediation_state="done")
    resolved = violation(
        web,
        "usb0",
        summary="USB passthrough usb0",
        evidence={"config_line": "usb0: host=1234:5678"},
        resolved_at=now - timedelta(hours=1),
    )
    hidden = violation(old, "node", summary="carol's secret violation")
    run = Remediation.objects.create(
        violation=open_violation,
        cluster=web.cluster,
        vm=web,
        action="migrate",
        params={"target": "node1", "online": True},
        description="Migrate back to node1",
        state="done",
        attempts=1,
        upid="UPID:node2:0000:0001:0002:qmigrate:100:steward@pve:",
        log="migration started\nmigration finished",
        created_at=now - timedelta(minutes=30),
        started_at=now - timedelta(minutes=29),
        finished_at=now - timedelta(minutes=28),
    )
    quarantine = Quarantine.objects.create(
        vm=web,
        cause="dormancy",
        reason="off for 120 days",
        policy=policy,
        since=now,
        applied_state="verified",
        verified_at=now,
    )
    exemption = Exemption.objects.create(
        policy=policy,
        vm=web,
        rule_key="usb0",
        until=now + timedelta(days=7),
        reason="licence dongle until migration",
        granted_by=people.security,
        granted_at=now,
    )
    return PolicyRecords(policy, open_violation, resolved, hidden, run, quarantine, exemption)
