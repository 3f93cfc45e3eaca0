"""One estate owned by alice (team ops) for the route x persona matrix; carol is the outsider."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from governance.approvals.models import ApprovalChain, Request
from governance.approvals.services.quota import quota_set
from governance.notifications.models import Notification
from governance.ownership.models import Claim, OwnershipRule, Transfer
from inventory.models import Copy, Lineage, ProxmoxTask, Residency, SyncRun
from policy.models import Policy

FOREIGN_MARKERS = ("web-1", "alice's secret request", "alice's notification")


def build_estate(people: Any, estate: dict, records: Any) -> dict[str, Any]:
    """Every object kind a route can name, each tied to alice's ``web`` where it can be."""
    now = timezone.now()
    web = estate["web"]
    cluster = web.cluster
    request = Request.objects.create(
        kind="migrate",
        requester=people.alice,
        cluster=cluster,
        team=people.ops,
        vm=web,
        parameters={"target_node": "node1"},
        justification="alice's secret request",
        idempotency_key=str(uuid.uuid4()),
        created_at=now,
        updated_at=now,
    )
    rule = OwnershipRule.objects.create(name="idor-rule", team=people.ops, owner=people.alice)
    return {
        "web": web,
        "cluster": cluster,
        "node": web.node,
        "storage": estate["storage"],
        "team": people.ops,
        "request": request,
        "claim": Claim.objects.create(vm=web, claimant=people.bob, team=people.ops),
        "transfer": Transfer.objects.create(
            vm=web, from_user=people.alice, to_user=people.bob, to_team=people.ops
        ),
        "notification": Notification.objects.create(
            user=people.alice, kind="test", subject="alice's notification", created_at=now
        ),
        "rule": rule,
        "chain": ApprovalChain.objects.create(name="idor-chain", kind="migrate"),
        "quota": quota_set(actor=people.admin, team=people.ops, limits={"max_vms": 5}),
        "policy": records.policy,
        "violation": records.open,
        "remediation": records.run,
        "quarantine": records.quarantine,
        "exemption": records.exemption,
        "residency": Residency.objects.filter(vm=web).first(),
        "copy": Copy.objects.filter(vm=web).first(),
        "lineage": Lineage.objects.filter(child=web).first(),
        "task": ProxmoxTask.objects.filter(cluster=cluster).first(),
        "syncrun": SyncRun.objects.filter(cluster=cluster).first(),
    }


def row_counts() -> dict[str, int]:
    """Rows a successful foreign write would add to or remove from."""
    from governance.audit.models import AuditEvent

    models = (AuditEvent, Request, Claim, Transfer, Notification, OwnershipRule, Policy)
    return {model.__name__: model.objects.count() for model in models}
