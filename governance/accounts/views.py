"""Pages for signing in, one's own profile, and the admins' people and teams page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from governance.accounts import mfa, services
from governance.accounts.forms import (
    MemberAddForm,
    MemberRemoveForm,
    MfaCodeForm,
    MfaResetForm,
    RolesForm,
    TeamForm,
)
from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role, roles_of
from governance.core.permissions import get_object_or_404_for
from governance.core.tables import Column, build_table


def _role_labels(user: User) -> str:
    names = {group.name for group in user.groups.all()}
    labels = [role.label for role in Role if role.value in names]
    if user.is_superuser and Role.ADMIN.label not in labels:
        labels.append(f"{Role.ADMIN.label} (superuser)")
    return ", ".join(labels) or "—"


def _mfa_label(user: User) -> str:
    return "yes" if any(device.confirmed for device in user.totp_devices.all()) else "no"


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    memberships = (
        TeamMembership.objects.filter(user=request.user)
        .select_related("team")
        .order_by("team__name")
    )
    roles = roles_of(request.user)
    return render(
        request,
        "accounts/profile.html",
        {
            "roles": [role for role in Role if role in roles],
            "memberships": memberships,
            "mfa": mfa.mfa_status(request.user),
            # Two forms with the same field on one page: distinct ids keep their labels apart.
            "mfa_codes_form": MfaCodeForm(auto_id="codes_%s"),
            "mfa_remove_form": MfaCodeForm(auto_id="remove_%s"),
        },
    )


@login_required
@permission_required("accounts.change_user", raise_exception=True)
def people(request: HttpRequest) -> HttpResponse:
    """Users with their roles and teams, and the list of teams (admins only)."""
    users = User.objects.prefetch_related("groups", "teams", "totp_devices")
    query = request.GET.get("q", "").strip()
    if query:
        users = users.filter(
            Q(username__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(email__icontains=query)
        )
    user_table = build_table(
        request=request,
        queryset=users,
        columns=[
            Column("Username", "username", sort_key="username"),
            Column("Name", lambda user: user.get_full_name(), sort_key="name"),
            Column("Roles", _role_labels),
            Column("Teams", lambda user: ", ".join(team.name for team in user.teams.all())),
            Column("Active", lambda user: "yes" if user.is_active else "no", sort_key="active"),
            Column("Second factor", _mfa_label),
        ],
        sorts={
            "username": "username",
            "name": ("last_name", "first_name"),
            "active": "is_active",
        },
        default_sort="username",
        prefix="u",
    )
    teams = Team.objects.annotate(
        member_count=Count("memberships"),
        manager_count=Count("memberships", filter=Q(memberships__is_manager=True)),
    )
    team_table = build_table(
        request=request,
        queryset=teams,
        columns=[
            Column("Team", "name", sort_key="name"),
            Column("Members", "member_count", sort_key="members", numeric=True),
            Column("Managers", "manager_count", numeric=True),
        ],
        sorts={"name": "name", "members": "member_count"},
        default_sort="name",
        prefix="t",
    )
    return render(
        request,
        "accounts/people.html",
        {
            "user_table": user_table,
            "team_table": team_table,
            "query": query,
            "team_form": TeamForm(),
            "roles_form": RolesForm(),
            "mfa_reset_form": MfaResetForm(),
        },
    )


@require_POST
@login_required
@permission_required("accounts.add_team", raise_exception=True)
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if form.is_valid():
        try:
            team = services.team_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Team {team.name} created.")
            return redirect("accounts:team", slug=team.slug)
    return render(request, "accounts/team_create.html", {"form": form}, status=400)


@require_POST
@login_required
@permission_required("accounts.change_user", raise_exception=True)
def roles_set(request: HttpRequest) -> HttpResponse:
    form = RolesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a user and their roles.")
        return redirect("accounts:people")
    user = services.user_roles_set(
        actor=request.user, user=form.cleaned_data["user"], roles=form.cleaned_data["roles"]
    )
    messages.success(request, f"Roles of {user.get_username()} updated.")
    return redirect("accounts:people")


@login_required
def team_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A team and its people: visible to its members and to holders of the view role right."""
    team = get_object_or_404_for(request.user, Team.objects.all(), "view", slug=slug)
    memberships = team.memberships.select_related("user").order_by("-is_manager", "user__username")
    can_edit = request.user.has_perm("accounts.change_team")
    return render(
        request,
        "accounts/team.html",
        {
            "team": team,
            "memberships": memberships,
            "can_edit": can_edit,
            "member_form": MemberAddForm() if can_edit else None,
        },
    )


@require_POST
@login_required
def team_member_add(request: HttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404_for(request.user, Team.objects.all(), "change", slug=slug)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        user = form.cleaned_data["user"]
        services.team_member_add(
            actor=request.user, team=team, user=user, is_manager=form.cleaned_data["is_manager"]
        )
        messages.success(request, f"{user.get_username()} is now in {team.name}.")
    else:
        messages.error(request, "Choose an active user to add.")
    return redirect("accounts:team", slug=team.slug)


@require_POST
@login_required
def team_member_remove(request: HttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404_for(request.user, Team.objects.all(), "change", slug=slug)
    form = MemberRemoveForm(request.POST)
    if form.is_valid():
        user = form.cleaned_data["user"]
        services.team_member_remove(actor=request.user, team=team, user=user)
        messages.success(request, f"{user.get_username()} left {team.name}.")
    return redirect("accounts:team", slug=team.slug)
