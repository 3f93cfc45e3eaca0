"""Route x persona matrix: no object route hands a foreign object to an outsider (R3).

Every URL pattern that names an object must appear in ``ROUTES`` (or in ``NOT_OBJECTS``
with a reason), so a new route fails here until someone says whose objects it serves.
The outsider is carol (end user in dev); the objects belong to alice in ops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from governance.audit.models import AuditEvent
from tests.governance.core.idor_estate import FOREIGN_MARKERS, build_estate, row_counts
from tests.governance.ownership.conftest import estate, people  # noqa: F401
from tests.policy.ui.conftest import records  # noqa: F401

pytestmark = pytest.mark.django_db

Kwargs = Callable[[dict[str, Any]], dict[str, Any]]


def pk(key: str) -> Kwargs:
    return lambda objects: {"pk": objects[key].pk}


def step(key: str, name: str) -> Kwargs:
    return lambda objects: {"pk": objects[key].pk, "step": name}


team_slug: Kwargs = lambda objects: {"slug": objects["team"].slug}  # noqa: E731
cluster_name: Kwargs = lambda objects: {"name": objects["cluster"].name}  # noqa: E731

# Objects private to their owner, team, parties or deciders: an outsider gets 403/404.
PRIVATE: dict[str, Kwargs] = {
    "accounts:team": team_slug,
    "accounts:team-member-add": team_slug,
    "accounts:team-member-remove": team_slug,
    "ownership:team": team_slug,
    "inventory:vm": pk("web"),
    "ownership:vm-claim": pk("web"),
    "ownership:vm-offer": pk("web"),
    "ownership:vm-extend": pk("web"),
    "ownership:vm-assign": pk("web"),
    "ownership:vm-classify": pk("web"),
    "ownership:claim-step": step("claim", "approve"),
    "ownership:transfer-step": step("transfer", "accept"),
    "policy:violation": pk("violation"),
    "policy:vm-section": pk("web"),
    "policy:remediation": pk("remediation"),
    "policy:remediation-status": pk("remediation"),
    "notifications:read": pk("notification"),
    "approvals:request": pk("request"),
    "approvals:request-live": pk("request"),
    "approvals:approve": pk("request"),
    "approvals:reject": pk("request"),
    "approvals:cancel": pk("request"),
    "approvals:retry": pk("request"),
    "approvals:quota": team_slug,
    "approvals-request-detail": pk("request"),
    "approvals-request-approve": pk("request"),
    "approvals-request-cancel": pk("request"),
    "approvals-request-reject": pk("request"),
    "approvals-request-timeline": pk("request"),
    "approvals-quota-detail": lambda objects: {"team": objects["team"].slug},
    "audit-event-detail": lambda objects: {"sequence": objects["event"].sequence},
    "inventory-vm-detail": pk("web"),
    "inventory-residency-detail": pk("residency"),
    "inventory-copy-detail": pk("copy"),
    "inventory-lineage-detail": pk("lineage"),
    "ownership-vm-detail": pk("web"),
    "ownership-vm-assign": pk("web"),
    "ownership-claim-detail": pk("claim"),
    "ownership-claim-approve": pk("claim"),
    "ownership-claim-cancel": pk("claim"),
    "ownership-claim-reject": pk("claim"),
    "ownership-transfer-detail": pk("transfer"),
    "ownership-transfer-accept": pk("transfer"),
    "ownership-transfer-approve": pk("transfer"),
    "ownership-transfer-reject": pk("transfer"),
    "policy-violation-detail": pk("violation"),
    "policy-remediation-detail": pk("remediation"),
    "policy-quarantine-detail": pk("quarantine"),
    "policy-exemption-detail": pk("exemption"),
}

# Estate-wide configuration every signed-in user may read; only its writes are guarded.
SHARED: dict[str, Kwargs] = {
    "inventory:cluster": cluster_name,
    "inventory:cluster-sync": cluster_name,
    "inventory:cluster-toggle": cluster_name,
    "inventory:storage-class": pk("storage"),
    "inventory-cluster-detail": cluster_name,
    "inventory-node-detail": pk("node"),
    "inventory-storage-detail": pk("storage"),
    "inventory-task-detail": pk("task"),
    "inventory-syncrun-detail": pk("syncrun"),
    "ownership:rule-edit": pk("rule"),
    "ownership:rule-toggle": pk("rule"),
    "ownership-rule-detail": pk("rule"),
    "policy:policy": pk("policy"),
    "policy:policy-edit": pk("policy"),
    "policy:version": lambda objects: {"pk": objects["policy"].pk, "version": 1},
    "policy-detail": pk("policy"),
    "policy-versions": pk("policy"),
    "approvals:chain": pk("chain"),
}

NOT_OBJECTS = {
    "approvals:new": "the kind is a form choice, not a stored object",
    "ownership:export": "the argument is a file format; rows are restricted like the list",
}
# The Django admin is its own site, open to staff only (tested by Django itself).
NOT_OBJECT_PREFIXES = ("admin:",)

# Pages listing objects by name: the foreign names (FOREIGN_MARKERS) must not show.
PAGE_LISTS = (
    "inventory:vms",
    "ownership:vms",
    "policy:violations",
    "policy:remediations",
    "policy:quarantines",
    "policy:exemptions",
    "notifications:list",
    "approvals:mine",
)
# API lists: the foreign object's id must not be among the rows; the control persona
# is alice unless the object is bob's (his claim) or needs the unowned template (lineage).
API_CONTROL = {"inventory-lineage-list": "admin", "ownership-claim-list": "bob"}
API_LISTS = {
    "inventory-vm-list": "web",
    "inventory-residency-list": "residency",
    "inventory-copy-list": "copy",
    "inventory-lineage-list": "lineage",
    "approvals-request-list": "request",
    "ownership-claim-list": "claim",
    "ownership-transfer-list": "transfer",
    "policy-violation-list": "violation",
    "policy-remediation-list": "remediation",
    "policy-quarantine-list": "quarantine",
    "policy-exemption-list": "exemption",
}


def object_routes(resolver: URLResolver | None = None, namespace: str = "") -> Iterator[str]:
    """Names of every pattern, however deeply included, that captures a URL argument."""
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            yield from object_routes(pattern, ":".join(filter(None, [namespace, inner])))
        elif isinstance(pattern, URLPattern) and pattern.pattern.regex.groupindex:
            name = ":".join(filter(None, [namespace, pattern.name or "(unnamed)"]))
            yield name


@pytest.fixture
def world(people, estate, records):  # noqa: F811
    objects = build_estate(people, estate, records)
    objects["event"] = AuditEvent.objects.order_by("-sequence").first()
    return people, objects


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_every_object_route_is_in_the_matrix():
    unknown = [
        name
        for name in object_routes()
        if name not in PRIVATE
        and name not in SHARED
        and name not in NOT_OBJECTS
        and not name.startswith(NOT_OBJECT_PREFIXES)
    ]
    assert unknown == [], f"add these routes to the IDOR matrix: {unknown}"


def denied(response, *, anonymous: bool, api: bool) -> bool:
    if response.status_code in (403, 404, 405) or (api and response.status_code == 401):
        return True
    location = response.get("Location", "")
    return (
        anonymous
        and response.status_code == 302
        and location.startswith(resolve_url(settings.LOGIN_URL))
    )


def probe(client: Client, persona: str, method: str, url: str) -> list[str]:
    """One request by an outsider: a failure unless it is refused and changed no row."""
    before = row_counts()
    response = getattr(client, method)(url)
    ok = denied(response, anonymous=persona == "anonymous", api="/api/" in url)
    if ok and row_counts() == before:
        return []
    return [f"{persona} {method.upper()} {url} -> {response.status_code}"]


def outsiders(cast) -> tuple[tuple[str, Client], ...]:
    return (("carol", client_for(cast.carol)), ("anonymous", client_for()))


def test_outsiders_and_anonymous_clients_get_nothing_from_foreign_objects(world):
    cast, objects = world
    failures = []
    for persona, client in outsiders(cast):
        for name, kwargs in PRIVATE.items():
            url = reverse(name, kwargs=kwargs(objects))
            failures += probe(client, persona, "get", url) + probe(client, persona, "post", url)
    assert failures == []


def test_outsiders_cannot_change_shared_configuration(world):
    """Carol may read estate-wide configuration; she may not change it, and anonymous
    clients may not even read it."""
    cast, objects = world
    failures = []
    for persona, client in outsiders(cast):
        for name, kwargs in SHARED.items():
            url = reverse(name, kwargs=kwargs(objects))
            failures += probe(client, persona, "post", url)
            if persona == "anonymous":
                failures += probe(client, persona, "get", url)
    assert failures == []


def test_the_owner_side_reaches_every_mapped_object(world):
    """The control: the same URLs resolve to real objects for an admin, so a 404 above
    means "hidden", not "broken route"."""
    cast, objects = world
    admin = client_for(cast.admin)
    failures = []
    for name, kwargs in {**PRIVATE, **SHARED}.items():
        url = reverse(name, kwargs=kwargs(objects))
        status = admin.get(url).status_code
        if status in (404, 500):
            failures.append(f"admin GET {url} -> {status}")
    assert failures == []


def row_ids(response) -> set[Any]:
    return {row.get("id") for row in response.json()["results"]}


def test_lists_never_show_foreign_objects(world):
    """Alice's side sees each foreign object in the same list, so absence means hidden."""
    cast, objects = world
    outsider, owner = client_for(cast.carol), client_for(cast.alice)
    leaks, unseen = [], []
    for name in PAGE_LISTS:
        url = reverse(name)
        outsider_body = outsider.get(url).content.decode()
        leaks += [f"{url}: {m}" for m in FOREIGN_MARKERS if m in outsider_body]
        if not any(m in owner.get(url).content.decode() for m in FOREIGN_MARKERS):
            unseen.append(url)
    for name, key in API_LISTS.items():
        url, foreign = reverse(name), objects[key].pk
        if foreign in row_ids(outsider.get(url)):
            leaks.append(f"{url}: {key} {foreign}")
        control = client_for(getattr(cast, API_CONTROL.get(name, "alice")))
        if foreign not in row_ids(control.get(url)):
            unseen.append(url)
    assert leaks == []
    assert unseen == [], " ".join(unseen)
