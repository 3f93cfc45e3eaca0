"""Changing users, roles and teams; each command writes its audit event in its transaction.

Callers (views, commands) check that the actor may act; services trust them and keep
the data consistent: team membership and the object permissions derived from it
change together.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils.text import slugify

from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role
from governance.audit.services import audit_record
from governance.core.permissions import grant, revoke


def _team_state(team: Team) -> dict[str, Any]:
    return {"name": team.name, "slug": team.slug, "description": team.description}


def _membership_state(membership: TeamMembership) -> dict[str, Any]:
    return {
        "team": membership.team.slug,
        "user": membership.user.get_username(),
        "is_manager": membership.is_manager,
    }


def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    roles: Iterable[Role] = (),
) -> User:
    """Create an active user whose password satisfies the validators; roles optional.

    Raises ``ValidationError`` for a weak password or an invalid/duplicate username.
    """
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        audit_record(
            actor=actor,
            action="user.create",
            target=user,
            after={"username": username, "email": email, "name": user.get_full_name()},
        )
        if roles:
            user_roles_set(actor=actor, user=user, roles=roles)
    return user


def user_password_set(*, actor: User | None, user: User, password: str) -> None:
    """Replace a user's password (validated); the audit event never contains it."""
    validate_password(password, user)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, action="user.password_set", target=user)


def user_roles_set(*, actor: User | None, user: User, roles: Iterable[Role]) -> User:
    """Make ``user`` hold exactly ``roles``; admins also get the Django admin (is_staff)."""
    wanted = {Role(role) for role in roles}
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        others = user.groups.exclude(name__in=Role.values)
        groups = list(Group.objects.filter(name__in=[role.value for role in wanted]))
        if len(groups) != len(wanted):
            raise LookupError("Role groups are missing: run `manage.py roles_sync`.")
        user.groups.set([*others, *groups])
        user.is_staff = user.is_superuser or Role.ADMIN in wanted
        user.save(update_fields=["is_staff"])
        audit_record(
            actor=actor,
            action="user.roles_set",
            target=user,
            before={"roles": before},
            after={"roles": sorted(role.value for role in wanted)},
        )
    return user


def team_create(*, actor: User | None, name: str, slug: str = "", description: str = "") -> Team:
    """Create a team; the slug defaults to the slugified name. ``ValidationError`` if taken."""
    team = Team(name=name.strip(), slug=slug or slugify(name), description=description)
    team.full_clean()
    with transaction.atomic():
        team.save()
        audit_record(actor=actor, action="team.create", target=team, after=_team_state(team))
    return team


def team_member_add(
    *, actor: User | None, team: Team, user: User, is_manager: bool = False
) -> TeamMembership:
    """Put ``user`` in ``team`` (or change whether they manage it); idempotent.

    Members may view their team; object permissions follow the membership.
    """
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        membership = TeamMembership.objects.filter(team=team, user=user).first()
        if membership is None:
            membership = TeamMembership.objects.create(team=team, user=user, is_manager=is_manager)
            before = None
        elif membership.is_manager == is_manager:
            return membership
        else:
            before = _membership_state(membership)
            membership.is_manager = is_manager
            membership.save(update_fields=["is_manager"])
        grant(user, "view", team)
        audit_record(
            actor=actor,
            action="team.member_add" if before is None else "team.member_change",
            target=team,
            before=before,
            after=_membership_state(membership),
        )
    return membership


def team_member_remove(*, actor: User | None, team: Team, user: User) -> None:
    """Take ``user`` out of ``team`` and withdraw the view right it gave; idempotent."""
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        membership = TeamMembership.objects.filter(team=team, user=user).first()
        if membership is None:
            return
        before = _membership_state(membership)
        membership.delete()
        revoke(user, "view", team)
        audit_record(actor=actor, action="team.member_remove", target=team, before=before)


def login_record(*, user: User) -> None:
    with transaction.atomic():
        audit_record(actor=user, action="user.login", target=user)


def logout_record(*, user: User) -> None:
    with transaction.atomic():
        audit_record(actor=user, action="user.logout", target=user)


def login_failure_record(*, username: str) -> None:
    """A failed sign-in, named by the username tried (which may not exist)."""
    with transaction.atomic():
        audit_record(
            actor=None,
            action="user.login_failed",
            actor_repr=f"anonymous ({username[:150]})",
            after={"username": username[:150]},
        )
