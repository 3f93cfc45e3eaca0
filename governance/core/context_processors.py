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
    # Entries of one group sit together; the bar marks where a group starts.
    group: str = ""

    def visible_to(self, roles: set[Role]) -> bool:
        return not self.roles or bool(self.roles & roles)


@dataclass(frozen=True)
class NavLink:
    """A navigation entry resolved for one request."""

    label: str
    url: str
    active: bool
    group_start: bool = False


_INVENTORY_READERS = frozenset({Role.ADMIN, Role.SECURITY_OFFICER, Role.AUDITOR})

_INVENTORY = "inventory"
_REQUESTS = "requests"
_POLICY = "policy"
_ADMINISTRATION = "administration"

NAVIGATION: tuple[NavEntry, ...] = (
    NavEntry("Home", "core:home", exact=True),
    NavEntry("VMs", "inventory:vms", roles=_INVENTORY_READERS, group=_INVENTORY),
    NavEntry("Clusters", "inventory:clusters", roles=_INVENTORY_READERS, group=_INVENTORY),
    NavEntry("Storage", "inventory:storage", roles=_INVENTORY_READERS, group=_INVENTORY),
    NavEntry(
        "OS diversity",
        "inventory:os-diversity",
        roles=_INVENTORY_READERS | {Role.MANAGER},
        group=_INVENTORY,
    ),
    NavEntry("Exposure", "inventory:exposure", roles=_INVENTORY_READERS, group=_INVENTORY),
    NavEntry(
        "Ownership", "ownership:dashboard", roles=_INVENTORY_READERS, exact=True, group=_INVENTORY
    ),
    NavEntry("Teams", "ownership:teams", roles=frozenset({Role.MANAGER}), group=_INVENTORY),
    NavEntry("My VMs", "ownership:mine", group=_INVENTORY),
    NavEntry("Requests", "approvals:mine", exact=True, group=_REQUESTS),
    NavEntry(
        "Approvals",
        "approvals:inbox",
        roles=frozenset({Role.MANAGER, Role.SECURITY_OFFICER, Role.ADMIN}),
        group=_REQUESTS,
    ),
    NavEntry("Approval chains", "approvals:chains", roles=frozenset({Role.ADMIN}), group=_REQUESTS),
    NavEntry(
        "Quotas", "approvals:quotas", roles=_INVENTORY_READERS | {Role.MANAGER}, group=_REQUESTS
    ),
    NavEntry("Policies", "policy:policies", roles=_INVENTORY_READERS, exact=True, group=_POLICY),
    NavEntry("Violations", "policy:violations", group=_POLICY),
    NavEntry(
        "People & Teams", "accounts:people", roles=frozenset({Role.ADMIN}), group=_ADMINISTRATION
    ),
    NavEntry(
        "Audit",
        "audit:events",
        roles=frozenset({Role.ADMIN, Role.AUDITOR, Role.SECURITY_OFFICER}),
        group=_ADMINISTRATION,
    ),
    NavEntry("API docs", "api-docs", roles=frozenset({Role.ADMIN}), group=_ADMINISTRATION),
)


def nav_links(request: HttpRequest, roles: set[Role]) -> list[NavLink]:
    """The entries ``roles`` may see, resolved, with the one matching the path marked."""
    links: list[NavLink] = []
    group = ""
    for entry in NAVIGATION:
        if not entry.visible_to(roles):
            continue
        url = reverse(entry.url_name)
        active = request.path == url if entry.exact else request.path.startswith(url)
        links.append(NavLink(entry.label, url, active, bool(links) and entry.group != group))
        group = entry.group
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
