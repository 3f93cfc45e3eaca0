"""The admin dashboard, a manager's team page and "My VMs": one template, three scopes.

Who opens which scope: the whole fleet needs the model-wide view rights on VMs and
ownership (admins, security officers, auditors); a team page is for its managers and
those readers (a plain member gets 403, anyone else 404: the team's page is invisible
to them); "My VMs" is for every signed-in user. Exports answer the same way.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify

from governance.accounts.models import Team, TeamMembership
from governance.ownership.charts import legend, sprawl_chart_svg
from governance.ownership.dashboard import Scope, dashboard_build
from governance.ownership.exports import dashboard_as_dict, dashboard_csv

FLEET_PERMISSIONS = ("inventory.view_virtualmachine", "ownership.view_ownership")


def sees_fleet(user: Any) -> bool:
    """Whether ``user`` may open the whole-fleet dashboard (and every team page)."""
    return user.has_perms(FLEET_PERMISSIONS)


def team_scope(user: Any, slug: str) -> Scope:
    """The team page's scope; ``Http404`` when the team is invisible, 403 for a member."""
    team = get_object_or_404(Team, slug=slug)
    if not sees_fleet(user):
        membership = TeamMembership.objects.filter(team=team, user=user).first()
        if membership is None:
            raise Http404("No such team.")
        if not membership.is_manager:
            raise PermissionDenied
    return Scope(kind="team", label=team.name, team=team)


def fleet_scope(user: Any) -> Scope:
    if not sees_fleet(user):
        raise PermissionDenied
    return Scope(kind="all", label="All VMs")


def mine_scope(user: Any) -> Scope:
    return Scope(kind="mine", label="My VMs", user=user)


def scope_from_params(request: HttpRequest) -> Scope:
    """``?team=<slug>`` or ``?mine=yes`` or neither (the fleet), authorised as above."""
    if slug := request.GET.get("team"):
        return team_scope(request.user, slug)
    if request.GET.get("mine") == "yes":
        return mine_scope(request.user)
    return fleet_scope(request.user)


def _render(request: HttpRequest, scope: Scope) -> HttpResponse:
    dashboard = dashboard_build(viewer=request.user, scope=scope)
    context = {
        "dashboard": dashboard,
        "scope": scope,
        "list_url": reverse("ownership:vms"),
        "export_query": scope.query(),
        "chart": sprawl_chart_svg(dashboard.sprawl),
        "legend": legend(dashboard.sprawl),
        "sprawl_rows": dashboard.sprawl.rows(),
        "can_assign": request.user.has_perm("ownership.add_ownership"),
    }
    return render(request, "ownership/dashboard.html", context)


@login_required
def dashboard_view(request: HttpRequest) -> HttpResponse:
    return _render(request, fleet_scope(request.user))


@login_required
def team_view(request: HttpRequest, slug: str) -> HttpResponse:
    return _render(request, team_scope(request.user, slug))


@login_required
def mine_view(request: HttpRequest) -> HttpResponse:
    return _render(request, mine_scope(request.user))


@login_required
def team_index_view(request: HttpRequest) -> HttpResponse:
    """The teams whose page the user may open; straight to it when there is one."""
    if sees_fleet(request.user):
        teams = list(Team.objects.order_by("name"))
    else:
        teams = list(
            Team.objects.filter(memberships__user=request.user, memberships__is_manager=True)
        )
        if len(teams) == 1:
            return redirect("ownership:team", slug=teams[0].slug)
    return render(request, "ownership/team_index.html", {"teams": teams})


@login_required
def export_view(request: HttpRequest, fmt: str) -> HttpResponse:
    """The dashboard of ``?team=`` / ``?mine=yes`` / the fleet as CSV or JSON, in full."""
    scope = scope_from_params(request)
    dashboard = dashboard_build(viewer=request.user, scope=scope, limit=None)
    list_url = request.build_absolute_uri(reverse("ownership:vms"))
    name = f"ownership-{slugify(scope.label)}-{dashboard.today.isoformat()}"
    if fmt == "json":
        response: HttpResponse = JsonResponse(dashboard_as_dict(dashboard, list_url=list_url))
    else:
        response = HttpResponse(
            dashboard_csv(dashboard, list_url=list_url), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
