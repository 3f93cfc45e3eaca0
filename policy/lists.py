"""Reading policy records for the pages and the API, always through ``restrict``.

Every queryset here starts from ``restrict`` with the requesting user, so owners and
custodians see the violations, remediations, quarantines and exemptions of their VMs
(``policy.visibility``) and security officers, admins and auditors see all of them;
filters are SQL conditions (team membership is a subquery over current ownership),
and related rows come by ``select_related`` so a page costs a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from governance.core.permissions import restrict
from governance.ownership.models import Ownership
from inventory.models import VirtualMachine
from policy.models import Exemption, Policy, PolicyVersion, Quarantine, Remediation, Violation

# How many resolved violations and past quarantines the VM page lists.
VM_PAGE_HISTORY = 20

VIOLATION_SORTS: dict[str, tuple[str, ...]] = {
    "detected": ("first_detected",),
    "seen": ("last_seen",),
    "resolved": ("resolved_at",),
    "policy": ("policy__name", "-first_detected"),
    "vm": ("vm__name", "vm__vmid"),
    "remediation": ("remediation_state", "-first_detected"),
}
REMEDIATION_SORTS: dict[str, tuple[str, ...]] = {
    "created": ("created_at",),
    "state": ("state", "-created_at"),
    "action": ("action", "-created_at"),
    "attempts": ("attempts", "-created_at"),
}


def policy_list(*, user: Any) -> QuerySet[Policy]:
    """Policies ``user`` may read, with their open violation counts' inputs joined."""
    return restrict(Policy.objects.all(), user).select_related("updated_by")


def policy_versions(*, policy: Policy) -> QuerySet[PolicyVersion]:
    """Every saved version of ``policy``, newest first."""
    return policy.versions.select_related("changed_by").order_by("-version")


def _team_q(slug: str) -> Q:
    current = Ownership.objects.filter(until__isnull=True, team__slug=slug)
    return Q(vm__in=current.values("vm_id"))


def violation_list(*, user: Any, filters: dict[str, str] | None = None) -> QuerySet[Violation]:
    """Violations ``user`` may see matching ``filters`` (keys of ``ViolationFilterForm``).

    ``state`` is ``open`` (default), ``resolved`` or ``all``; ``detected`` (ISO time)
    keeps the violations first detected by the reconcile cycle of that moment.
    """
    filters = filters or {}
    queryset = restrict(Violation.objects.all(), user).select_related(
        "policy", "vm", "vm__node", "cluster"
    )
    state = filters.get("state", "open")
    if state == "open":
        queryset = queryset.filter(resolved_at__isnull=True)
    elif state == "resolved":
        queryset = queryset.filter(resolved_at__isnull=False)
    if filters.get("policy"):
        queryset = queryset.filter(policy__name=filters["policy"])
    if filters.get("remediation"):
        queryset = queryset.filter(remediation_state=filters["remediation"])
    if filters.get("cluster"):
        queryset = queryset.filter(cluster__name=filters["cluster"])
    if filters.get("team"):
        queryset = queryset.filter(_team_q(filters["team"]))
    if filters.get("detected"):
        queryset = queryset.filter(first_detected=filters["detected"])
    if query := filters.get("q"):
        match = Q(vm__name__icontains=query)
        if query.isdigit():
            match |= Q(vm__vmid=int(query))
        queryset = queryset.filter(match)
    return queryset


def violation_remediations(*, violation: Violation) -> QuerySet[Remediation]:
    """The runs of one violation, newest first."""
    return violation.remediations.select_related("requested_by").order_by("-created_at", "-id")


def remediation_list(*, user: Any, filters: dict[str, str] | None = None) -> QuerySet[Remediation]:
    """Remediation runs ``user`` may see; dry runs are included (they say so)."""
    filters = filters or {}
    queryset = restrict(Remediation.objects.all(), user).select_related(
        "violation", "violation__policy", "vm", "cluster", "quarantine"
    )
    if filters.get("state"):
        queryset = queryset.filter(state=filters["state"])
    if filters.get("action"):
        queryset = queryset.filter(action=filters["action"])
    if filters.get("cluster"):
        queryset = queryset.filter(cluster__name=filters["cluster"])
    return queryset


def quarantine_list(*, user: Any, open_only: bool = False) -> QuerySet[Quarantine]:
    queryset = restrict(Quarantine.objects.all(), user).select_related(
        "vm", "vm__cluster", "policy", "lifted_by"
    )
    return queryset.filter(lifted_at__isnull=True) if open_only else queryset


def exemption_list(*, user: Any, active_only: bool = False) -> QuerySet[Exemption]:
    queryset = restrict(Exemption.objects.all(), user).select_related(
        "policy", "vm", "vm__cluster", "granted_by"
    )
    if active_only:
        queryset = queryset.filter(revoked_at__isnull=True, until__gt=timezone.now())
    return queryset


@dataclass
class VmPolicySection:
    """What the VM page shows about policy; every list already ordered for display."""

    open: list[Violation] = field(default_factory=list)
    resolved: list[Violation] = field(default_factory=list)
    quarantine: Quarantine | None = None
    past_quarantines: list[Quarantine] = field(default_factory=list)
    exemptions: list[Exemption] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.open or self.resolved or self.quarantine or self.past_quarantines)


def vm_policy_section(*, user: Any, vm: VirtualMachine) -> VmPolicySection:
    """The VM's violations (open, recently resolved), quarantines and active exemptions.

    Five queries whatever the counts; each violation carries ``runs`` (its remediations,
    newest first) for the remediation state and the link to the run's log.
    """
    runs = Prefetch(
        "remediations",
        queryset=Remediation.objects.order_by("-created_at", "-id"),
        to_attr="runs",
    )
    violations = (
        restrict(Violation.objects.filter(vm=vm), user)
        .select_related("policy")
        .prefetch_related(runs)
    )
    quarantines = list(quarantine_list(user=user).filter(vm=vm)[: VM_PAGE_HISTORY + 1])
    open_quarantine = next((q for q in quarantines if q.lifted_at is None), None)
    return VmPolicySection(
        open=list(violations.filter(resolved_at__isnull=True).order_by("-first_detected", "-id")),
        resolved=list(
            violations.filter(resolved_at__isnull=False).order_by("-resolved_at", "-id")[
                :VM_PAGE_HISTORY
            ]
        ),
        quarantine=open_quarantine,
        past_quarantines=[q for q in quarantines if q is not open_quarantine][:VM_PAGE_HISTORY],
        exemptions=list(exemption_list(user=user, active_only=True).filter(vm=vm)),
    )
