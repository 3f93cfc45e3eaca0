"""``manage.py seed_demo``: demo users for every role and teams with managers (idempotent).

Re-running restores the demo state: missing users and teams are created, demo users
get their known password and roles back, memberships are re-added. Every change goes
through the services, so the audit trail shows the seeding. Known passwords are a
demo convenience only, so the command refuses to run with DEBUG off unless told to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from governance.accounts import services
from governance.accounts.models import Team, TeamMembership, User
from governance.accounts.roles import Role, roles_of

DEMO_PASSWORD = "steward-demo-2025"  # noqa: S105 - printed to the operator on purpose


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    roles: tuple[Role, ...]


@dataclass(frozen=True)
class DemoTeam:
    name: str
    description: str
    managers: tuple[str, ...]
    members: tuple[str, ...]


DEMO_USERS = (
    DemoUser("admin", "Ada", "Admin", (Role.ADMIN,)),
    DemoUser("security", "Sam", "Secure", (Role.SECURITY_OFFICER,)),
    DemoUser("auditor", "Audrey", "Auditor", (Role.AUDITOR,)),
    DemoUser("manager", "Max", "Manager", (Role.MANAGER, Role.END_USER)),
    DemoUser("manager2", "Mia", "Manager", (Role.MANAGER, Role.END_USER)),
    DemoUser("alice", "Alice", "Ng", (Role.END_USER,)),
    DemoUser("bob", "Bob", "Ortiz", (Role.END_USER,)),
    DemoUser("carol", "Carol", "Singh", (Role.END_USER,)),
)

DEMO_TEAMS = (
    DemoTeam("Platform", "Runs the shared clusters.", ("manager",), ("alice", "bob")),
    DemoTeam("Research", "Experiments and short-lived VMs.", ("manager2",), ("carol", "bob")),
    DemoTeam("Finance", "Business applications.", ("manager2",), ("alice",)),
)


class Command(BaseCommand):
    help = "Create or restore the demo users (one per role, plus end users) and teams."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even with DEBUG off (creates accounts with a published password)",
        )

    def handle(self, *args: Any, allow_production: bool, **options: Any) -> None:
        if not settings.DEBUG and not allow_production:
            raise CommandError("seed_demo creates accounts with a known password; DEBUG is off.")
        with transaction.atomic():
            users = {demo.username: self._ensure_user(demo) for demo in DEMO_USERS}
            for demo in DEMO_TEAMS:
                self._ensure_team(demo, users)
        self._print_logins(users)

    def _ensure_user(self, demo: DemoUser) -> User:
        user = User.objects.filter(username=demo.username).first()
        if user is None:
            return services.user_create(
                actor=None,
                username=demo.username,
                password=DEMO_PASSWORD,
                email=f"{demo.username}@example.org",
                first_name=demo.first_name,
                last_name=demo.last_name,
                roles=demo.roles,
            )
        if not user.check_password(DEMO_PASSWORD):
            services.user_password_set(actor=None, user=user, password=DEMO_PASSWORD)
        if roles_of(user) - ({Role.ADMIN} if user.is_superuser else set()) != set(demo.roles):
            user = services.user_roles_set(actor=None, user=user, roles=demo.roles)
        return user

    def _ensure_team(self, demo: DemoTeam, users: dict[str, User]) -> None:
        team = Team.objects.filter(name=demo.name).first() or services.team_create(
            actor=None, name=demo.name, description=demo.description
        )
        for username in demo.managers:
            services.team_member_add(actor=None, team=team, user=users[username], is_manager=True)
        for username in demo.members:
            services.team_member_add(actor=None, team=team, user=users[username])

    def _print_logins(self, users: dict[str, User]) -> None:
        teams: dict[int, list[str]] = {}
        for membership in TeamMembership.objects.select_related("team").filter(
            user__in=users.values()
        ):
            label = membership.team.name + (" (manager)" if membership.is_manager else "")
            teams.setdefault(membership.user_id, []).append(label)
        rows = [("Username", "Password", "Roles", "Teams")]
        for demo in DEMO_USERS:
            user = users[demo.username]
            rows.append(
                (
                    demo.username,
                    DEMO_PASSWORD,
                    ", ".join(role.label for role in demo.roles),
                    ", ".join(sorted(teams.get(user.pk, []))) or "-",
                )
            )
        widths = [max(len(row[column]) for row in rows) for column in range(4)]
        for index, row in enumerate(rows):
            self.stdout.write(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )
            if index == 0:
                self.stdout.write("  ".join("-" * width for width in widths))
