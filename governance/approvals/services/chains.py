"""Which approvals a request needs, and who may give them.

Invariants:
- ``chain_for`` is deterministic: among enabled chains of the kind whose set scope fields
  all match, the lowest (priority, id) wins; none matching means ``DEFAULT_STEPS`` (the
  team's manager; admins when there is no team).
- Auto-approval compares a chain's size thresholds with what the request really produces
  or acts on (``request_footprint``): the source VM from the inventory for kinds on a VM,
  the template's disks for a provision from a template; a size not known is never within.
- A request's steps are copied at submission (``steps_build``); eligibility is decided
  against those copies, never against the live chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from governance.accounts.roles import Role, has_role
from governance.approvals.models import (
    ApprovalChain,
    ApproverRule,
    Request,
    RequestKind,
    RequestStep,
    StepMode,
)
from governance.approvals.models.chains import step_needs
from governance.approvals.quota_usage import Size, request_size, vm_size
from governance.ownership.services import is_team_manager, managers_of
from inventory.models import Classification, VirtualMachine

_CLASSIFICATION_RANK = {
    Classification.PUBLIC: 0,
    Classification.INTERNAL: 1,
    Classification.SENSITIVE: 2,
}


@dataclass(frozen=True)
class StepPlan:
    """One step a request will need, as shown to the requester before submission."""

    name: str
    approver_rule: str
    role: str = ""
    group_name: str = ""
    team_id: int | None = None
    mode: str = StepMode.ANY_OF
    required: int = 1

    def describe(self) -> str:
        """``"Security: 2 of the eligible approvers (holders of role security_officer)"``."""
        who = {
            ApproverRule.TEAM_MANAGER: "the team's managers",
            ApproverRule.ROLE: f"holders of role {self.role}",
            ApproverRule.GROUP: f"members of group {self.group_name}",
        }.get(self.approver_rule, self.approver_rule)
        return f"{self.name}: {step_needs(self.mode, self.required)} ({who})"


DEFAULT_STEPS = (StepPlan(name="Team manager", approver_rule=ApproverRule.TEAM_MANAGER),)


def request_classification(request: Request) -> str:
    if request.vm is not None:
        return request.vm.classification
    return str(request.parameters.get("classification") or Classification.INTERNAL)


def request_cluster_id(request: Request) -> int | None:
    if request.cluster_id:
        return request.cluster_id
    return request.vm.cluster_id if request.vm is not None else None


def is_cross_cluster(request: Request) -> bool:
    target = request.parameters.get("target_cluster")
    return bool(target) and str(target) != str(request_cluster_id(request))


def _matches(chain: ApprovalChain, request: Request) -> bool:
    if chain.classification and chain.classification != request_classification(request):
        return False
    if chain.cluster_id and chain.cluster_id != request_cluster_id(request):
        return False
    return chain.cross_cluster is None or chain.cross_cluster == is_cross_cluster(request)


def chain_for(request: Request) -> ApprovalChain | None:
    """The chain that governs ``request`` (unsaved requests work too)."""
    chains = ApprovalChain.objects.filter(kind=request.kind, enabled=True).order_by(
        "priority", "id"
    )
    return next((chain for chain in chains if _matches(chain, request)), None)


def plan_for(request: Request, chain: ApprovalChain | None) -> tuple[StepPlan, ...]:
    if chain is None:
        return DEFAULT_STEPS
    steps = chain.steps.select_related("group").order_by("position")
    return (
        tuple(
            StepPlan(
                name=step.name,
                approver_rule=step.approver_rule,
                role=step.role,
                group_name=step.group.name if step.group_id else "",
                team_id=step.team_id,
                mode=step.mode,
                required=step.required,
            )
            for step in steps
        )
        or DEFAULT_STEPS
    )


#: Per auto-approval threshold of a chain: the quota limit whose measure and unit it uses.
_THRESHOLDS = (
    ("auto_max_cores", "max_cores"),
    ("auto_max_memory_mib", "max_memory_mib"),
    ("auto_max_disk_gib", "max_disk_gib"),
)
_ALL_LIMITS = frozenset(limit for _field, limit in _THRESHOLDS)


@dataclass(frozen=True)
class Footprint:
    """The size a request produces or moves, and the limits it cannot be measured against."""

    size: Size
    unknown: frozenset[str] = frozenset()


def request_footprint(request: Request) -> Footprint:
    """What ``request`` will really produce or act on, as the size thresholds judge it.

    - provision: the requested cores and memory (a clone from a template is given them
      too) and the disk it will have: ``disk_gib`` from scratch, the template's disks from
      a template (a full clone copies them as they are; ``disk_gib`` is not used);
    - import of a guest of another cluster: that guest as the inventory saw it; of an
      image or appliance: the cores and memory it is created with (``quota_usage``), its
      disk unknown (Proxmox reports an image's size only once it is imported);
    - every kind on an existing VM (clone, migrate, export, rollback, ...): that VM's
      cores, memory and disks as the inventory last saw them, whatever the parameters say;
    - anything else: unknown, so a size threshold never lets it through.
    """
    params = request.parameters or {}
    if request.kind == RequestKind.PROVISION:
        size = request_size(RequestKind.PROVISION, params, None)
        template = params.get("template")
        if template and not VirtualMachine.objects.filter(pk=int(template)).exists():
            return Footprint(size, frozenset({"max_disk_gib"}))
        return Footprint(size)
    if request.kind == RequestKind.IMPORT:
        if params.get("source_cluster"):
            source = VirtualMachine.objects.filter(
                cluster__name=params["source_cluster"],
                vmid=int(params.get("source_vmid") or 0),
                gone_since__isnull=True,
            ).first()
            if source is None:
                return Footprint(Size(), _ALL_LIMITS)
            return Footprint(vm_size(source))
        image = request_size(RequestKind.IMPORT, params, None)
        return Footprint(image, frozenset({"max_disk_gib"}))
    if request.vm is not None:
        return Footprint(vm_size(request.vm))
    return Footprint(Size(), _ALL_LIMITS)


def _size_within(chain: ApprovalChain, footprint: Footprint) -> bool:
    for field, limit in _THRESHOLDS:
        value = getattr(chain, field)
        if value is None:
            continue
        if limit in footprint.unknown or footprint.size.exceeds(limit, value):
            return False
    return True


def auto_approvable(request: Request, chain: ApprovalChain | None) -> bool:
    """Below the chain's thresholds: no human needs to decide. Sizes are those the request
    really produces or acts on (``request_footprint``), not what its parameters claim."""
    if chain is None or not chain.auto_approve:
        return False
    if chain.auto_max_classification:
        rank = _CLASSIFICATION_RANK.get(request_classification(request), 2)
        if rank > _CLASSIFICATION_RANK[chain.auto_max_classification]:
            return False
    if all(getattr(chain, field) is None for field, _limit in _THRESHOLDS):
        return True
    try:
        footprint = request_footprint(request)
    except (TypeError, ValueError):
        return False
    return _size_within(chain, footprint)


def approvals_needed(request: Request) -> tuple[bool, tuple[StepPlan, ...]]:
    """(auto-approved?, the steps) for a request about to be submitted: what the form shows."""
    chain = chain_for(request)
    return auto_approvable(request, chain), plan_for(request, chain)


def steps_build(request: Request, plans: tuple[StepPlan, ...]) -> list[RequestStep]:
    return RequestStep.objects.bulk_create(
        RequestStep(
            request=request,
            position=position,
            name=plan.name,
            approver_rule=plan.approver_rule,
            role=plan.role,
            group_name=plan.group_name,
            team_id=plan.team_id,
            mode=plan.mode,
            required=plan.required if plan.mode == StepMode.ALL_OF else 1,
        )
        for position, plan in enumerate(plans)
    )


def step_team_id(step: RequestStep) -> int | None:
    return step.team_id or step.request.team_id


def step_eligible(step: RequestStep, user: Any) -> bool:
    """Whether ``user`` matches the step's approver rule (separation of duties is checked
    by the decision services, not here)."""
    if not getattr(user, "is_active", False):
        return False
    if step.approver_rule == ApproverRule.TEAM_MANAGER:
        team_id = step_team_id(step)
        if team_id is None:
            return has_role(user, Role.ADMIN)
        return is_team_manager(user=user, team_id=team_id)
    if step.approver_rule == ApproverRule.ROLE:
        return bool(step.role) and has_role(user, step.role)
    if step.approver_rule == ApproverRule.GROUP:
        return user.groups.filter(name=step.group_name).exists()
    return False


def step_approvers(step: RequestStep) -> QuerySet:
    """Active users who match the step's rule (whom to notify, whose inbox shows it)."""
    users = get_user_model().objects.filter(is_active=True)
    if step.approver_rule == ApproverRule.TEAM_MANAGER:
        return managers_of(step_team_id(step))
    if step.approver_rule == ApproverRule.ROLE:
        extra = Q(is_superuser=True) if step.role == Role.ADMIN else Q(pk__in=[])
        return users.filter(Q(groups__name=step.role) | extra).distinct()
    if step.approver_rule == ApproverRule.GROUP:
        return users.filter(groups__name=step.group_name).distinct()
    return users.none()
