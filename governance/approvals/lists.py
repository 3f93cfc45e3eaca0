"""What the approvals pages read: requests a user may see, their inbox, their own list.

Who sees a request (the same rule for pages and the API; others get 404):
- its requester;
- estate-wide readers (admins, security officers, auditors);
- anyone named by one of its steps: managers of the step's team (or of the request's
  team), holders of the step's role, members of the step's group;
- anyone who already decided on it.

The inbox is narrower: pending requests whose *current* step (the lowest unsatisfied
one) names the user, that the user did not submit and has not already decided on. Both
are single SQL queries (subqueries, no ids loaded into Python), oldest first for the
inbox because the longest waiting request should be decided first.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from governance.accounts.models import TeamMembership
from governance.accounts.roles import Role, roles_of
from governance.approvals.models import (
    Approval,
    ApproverRule,
    Request,
    RequestEvent,
    RequestState,
    RequestStep,
)
from inventory.models import Cluster, Storage
from inventory.models.clusters import StorageClass

ESTATE_READERS = frozenset({Role.ADMIN, Role.SECURITY_OFFICER, Role.AUDITOR})


def _steps_naming(user: Any) -> Q:
    """Request steps whose approver rule names ``user`` (over ``RequestStep``).

    The SQL twin of ``services.chains.step_eligible``: a team-manager step without any
    team falls to admins, and superusers hold the admin role.
    """
    managed = TeamMembership.objects.filter(user=user, is_manager=True).values("team_id")
    held = roles_of(user)
    roles = [role.value for role in held]
    groups = user.groups.values("name")
    team_manager = Q(approver_rule=ApproverRule.TEAM_MANAGER) & (
        Q(team_id__in=managed) | Q(team__isnull=True, request__team_id__in=managed)
    )
    if Role.ADMIN in held:
        team_manager |= Q(
            approver_rule=ApproverRule.TEAM_MANAGER, team__isnull=True, request__team__isnull=True
        )
    return (
        team_manager
        | Q(approver_rule=ApproverRule.ROLE, role__in=roles)
        | Q(approver_rule=ApproverRule.GROUP, group_name__in=groups)
    )


def request_visible(*, user: Any) -> QuerySet[Request]:
    """Every request ``user`` may see (module docstring), with what lists show joined."""
    queryset = Request.objects.select_related("requester", "vm", "cluster", "team")
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser or roles_of(user) & ESTATE_READERS:
        return queryset
    named = RequestStep.objects.filter(_steps_naming(user)).values("request_id")
    decided = Approval.objects.filter(approver=user).values("request_id")
    return queryset.filter(Q(requester=user) | Q(pk__in=named) | Q(pk__in=decided))


def request_inbox(*, user: Any) -> QuerySet[Request]:
    """Pending requests waiting for ``user``'s decision on their current step, oldest first."""
    current_position = (
        RequestStep.objects.filter(request=OuterRef("request_id"), satisfied_at__isnull=True)
        .order_by("position")
        .values("position")[:1]
    )
    waiting = RequestStep.objects.filter(
        _steps_naming(user),
        request_id=OuterRef("pk"),
        satisfied_at__isnull=True,
        position=Subquery(current_position),
    )
    already = Approval.objects.filter(
        request_id=OuterRef("pk"), approver=user, voided_at__isnull=True
    )
    return (
        Request.objects.select_related("requester", "vm", "cluster", "team")
        .filter(state=RequestState.PENDING)
        .exclude(requester=user)
        .filter(Exists(waiting))
        .exclude(Exists(already))
        .order_by("created_at", "id")
    )


def request_mine(*, user: Any) -> QuerySet[Request]:
    """The requests ``user`` submitted, newest first."""
    return Request.objects.select_related("requester", "vm", "cluster", "team").filter(
        requester=user
    )


def request_timeline(*, request: Request) -> QuerySet[RequestEvent]:
    """The request's timeline (submission, decisions, execution steps, tasks), in order."""
    return request.events.select_related("actor").order_by("at", "id")


def request_for_vm(*, user: Any, vm_id: int, limit: int = 5) -> list[Request]:
    """The latest requests about one guest that ``user`` may see."""
    return list(request_visible(user=user).filter(vm_id=vm_id).order_by("-created_at")[:limit])


def clusters_open_for_requests() -> QuerySet[Cluster]:
    """Clusters a new guest may be requested on: enabled, with approved storage for it.

    Not restricted to clusters the requester may browse: an end user sees no cluster in
    the inventory, yet asks for VMs. Only names of clusters, nodes and approved storages
    are shown, and the approvers decide.
    """
    approved = Storage.objects.filter(
        storage_class=StorageClass.APPROVED, gone_since__isnull=True
    ).values("cluster_id")
    return Cluster.objects.filter(enabled=True, pk__in=approved).order_by("name")
