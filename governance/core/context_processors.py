"""Template context shared by every page: the role-based navigation.

The navigation is declared once, in ``NAVIGATION``: each entry names a URL and the roles
that see it. Later features add their entry here and nowhere else. An entry only hides
a link; the view behind it still checks permissions itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from governance.accounts.roles import Role, roles_of


@dataclass(frozen=True)
class NavEntry:
    """A navigation link; ``roles`` empty means every signed-in user sees it."""

    label: str
    url_name: str
    roles: frozenset[Role] = frozenset()
    # "/" would prefix-match every page, so Home is only active on itself.
    exact: bool = False

    def visible_to(self, roles: set[Role]) -> bool:
        return not self.roles or bool(self.roles & roles)


@dataclass(frozen=True)
class NavLink:
    """A navigation entry resolved for one request."""

    label: str
    url: str
    active: bool


_INVENTORY_READERS = frozenset({Role.ADMIN, Role.SECURITY_OFFICER, Role.AUDITOR})

NAVIGATION: tuple[NavEntry, ...] = (
    NavEntry("Home", "core:home", exact=True),
    NavEntry("VMs", "inventory:vms", roles=_INVENTORY_READERS),
    NavEntry("Clusters", "inventory:clusters", roles=_INVENTORY_READERS),
    NavEntry("Storage", "inventory:storage", roles=_INVENTORY_READERS),
    NavEntry("OS diversity", "inventory:os-diversity", roles=_INVENTORY_READERS | {Role.MANAGER}),
    NavEntry("Exposure", "inventory:exposure", roles=_INVENTORY_READERS),
    NavEntry("Ownership", "ownership:dashboard", roles=_INVENTORY_READERS, exact=True),
    NavEntry("Teams", "ownership:teams", roles=frozenset({Role.MANAGER})),
    NavEntry("My VMs", "ownership:mine"),
    NavEntry("Requests", "approvals:mine", exact=True),
    NavEntry(
        "Approvals",
        "approvals:inbox",
        roles=frozenset({Role.MANAGER, Role.SECURITY_OFFICER, Role.ADMIN}),
    ),
    NavEntry("Approval chains", "approvals:chains", roles=frozenset({Role.ADMIN})),
    NavEntry("Quotas", "approvals:quotas", roles=_INVENTORY_READERS | {Role.MANAGER}),
    NavEntry("Policies", "policy:policies", roles=_INVENTORY_READERS, exact=True),
    NavEntry("Violations", "policy:violations"),
    NavEntry("People & Teams", "accounts:people", roles=frozenset({Role.ADMIN})),
    NavEntry(
        "Audit", "audit:events", roles=frozenset({Role.ADMIN, Role.AUDITOR, Role.SECURITY_OFFICER})
    ),
    NavEntry("API docs", "api-docs", roles=frozenset({Role.ADMIN})),
)


def nav_links(request: HttpRequest, roles: set[Role]) -> list[NavLink]:
    """The entries ``roles`` may see, resolved, with the one matching the path marked."""
    links = []
    for entry in NAVIGATION:
        if not entry.visible_to(roles):
            continue
        url = reverse(entry.url_name)
        active = request.path == url if entry.exact else request.path.startswith(url)
        links.append(NavLink(entry.label, url, active))
    return links


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": [], "user_roles": []}
    roles = roles_of(user)
    return {
        "nav_links": nav_links(request, roles),
        # In declaration order, which runs from least to most privileged.
        "user_roles": [role for role in Role if role in roles],
    }
