"""Validating a policy document before it is saved, previewed or imported.

A document is ``{name, description, kind, mode, enabled, scope, parameters}``.
``document_clean`` returns it normalised (parameters with defaults, scope lists sorted
and without empty keys) or raises ``ValidationError`` keyed by field (``name``, ``kind``,
``mode``, ``enabled``, ``scope``, ``scope.<key>``, ``parameters``, ``__all__``); every
message says what to fix. Refused: unknown kind/mode, an empty scope, unknown clusters,
teams, classifications or VMs, bad parameters, unknown nodes in a pinning set, and a
host-pinning policy contradicting another enabled one (some guest in both scopes with no
node allowed by both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from governance.accounts.models import Team
from governance.ownership.models import Ownership
from inventory.models import Classification, Cluster, Node, VirtualMachine
from policy.evaluation import SCOPE_KEYS, scope_is_empty
from policy.models import Policy, PolicyKind, PolicyMode
from policy.rules import clean_params

DOCUMENT_KEYS = ("name", "description", "kind", "mode", "enabled", "scope", "parameters")
# Guests named in a contradiction message; more would drown the point.
_SHOWN = 5


def document_clean(
    document: Mapping[str, Any],
    *,
    policy_id: int | None = None,
    others: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The normalised document, or ``ValidationError``.

    ``policy_id`` is the policy being changed (its own name is not a clash, and its stored
    version is not a contradiction). ``others`` replaces the stored enabled policies in
    the contradiction check (an import checks its documents against each other).
    """
    problems = _Problems()
    refuse = problems.add
    if not isinstance(document, Mapping):
        raise ValidationError("A policy must be a mapping of fields to values.")
    for key in document:
        if key not in DOCUMENT_KEYS:
            refuse("__all__", f'Unknown field "{key}"; a policy has {", ".join(DOCUMENT_KEYS)}.')
    name = str(document.get("name") or "").strip()
    if not name:
        refuse("name", "Give the policy a name.")
    elif len(name) > 100:
        refuse("name", "Use a name of at most 100 characters.")
    elif Policy.objects.filter(name=name).exclude(pk=policy_id).exists():
        refuse("name", f'A policy named "{name}" already exists; choose another name.')
    kind = document.get("kind")
    if kind not in PolicyKind.values:
        refuse("kind", f"Unknown kind {kind!r}; use one of {', '.join(PolicyKind.values)}.")
    mode = document.get("mode", PolicyMode.AUDIT)
    if mode not in PolicyMode.values:
        refuse("mode", f"Unknown mode {mode!r}; use audit or enforce.")
    enabled = document.get("enabled", True)
    if not isinstance(enabled, bool):
        refuse("enabled", "enabled must be true or false.")
    scope = _scope_clean(document.get("scope"), problems)
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        refuse("parameters", "Parameters must be a mapping of names to values.")
        parameters = {}
    elif kind in PolicyKind.values:
        parameters, messages = clean_params(kind, parameters)
        for message in messages:
            refuse("parameters", message)
    cleaned = {
        "name": name,
        "description": str(document.get("description") or ""),
        "kind": kind,
        "mode": mode,
        "enabled": enabled,
        "scope": scope,
        "parameters": dict(parameters),
    }
    if not problems.errors and kind == PolicyKind.HOST_PINNING:
        _pinning_check(cleaned, refuse, policy_id=policy_id, others=others)
    if problems.errors:
        raise ValidationError(problems.errors)
    return cleaned


class _Problems:
    """Messages by field, in the order they were found."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)


def _scope_clean(scope: Any, problems: _Problems) -> dict[str, list[Any]]:
    refuse = problems.add
    if scope is None:
        scope = {}
    if not isinstance(scope, Mapping):
        refuse("scope", "The scope must be a mapping such as {clusters: [pve-a]}.")
        return {}
    cleaned: dict[str, list[Any]] = {}
    for key, values in scope.items():
        if key not in SCOPE_KEYS:
            refuse("scope", f'Unknown scope key "{key}"; use {", ".join(SCOPE_KEYS)}.')
            continue
        if values in (None, "", []):
            continue
        if isinstance(values, str | int):
            values = [values]
        if not isinstance(values, list):
            refuse(f"scope.{key}", f"scope.{key} must be a list.")
            continue
        if key == "vms":
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                refuse("scope.vms", "scope.vms lists Steward VM ids, numbers such as 42.")
                continue
        elif not all(isinstance(v, str) and v.strip() for v in values):
            refuse(f"scope.{key}", f"scope.{key} must be a list of names.")
            continue
        cleaned[key] = sorted({v.strip() if isinstance(v, str) else v for v in values})
    if scope_is_empty(cleaned) and "scope" not in problems.errors:
        refuse(
            "scope",
            "The scope is empty: name at least one cluster, pool, tag, classification, team "
            "or VM the policy applies to (to cover everything, list every cluster).",
        )
        return cleaned
    _unknown(cleaned, "clusters", Cluster.objects.values_list("name", flat=True), refuse)
    _unknown(cleaned, "teams", Team.objects.values_list("slug", flat=True), refuse)
    _unknown(cleaned, "classifications", Classification.values, refuse)
    if ids := cleaned.get("vms"):
        live = set(
            VirtualMachine.objects.filter(pk__in=ids, gone_since__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if missing := [i for i in ids if i not in live]:
            refuse("scope.vms", f"No live VM has the id(s) {_join(missing)}; remove them.")
    return cleaned


def _unknown(scope: dict[str, list[Any]], key: str, known: Iterable[str], refuse) -> None:
    if not scope.get(key):
        return
    known_set = set(known)
    if missing := [v for v in scope[key] if v not in known_set]:
        listing = _join(sorted(known_set)) or "none yet"
        refuse(f"scope.{key}", f"Unknown {key} {_join(missing)}; known: {listing}.")


def _join(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def scope_queryset(scope: Mapping[str, list[Any]]) -> QuerySet[VirtualMachine]:
    """The live guests a scope selects, as SQL (the same semantics as
    ``policy.evaluation.in_scope``)."""
    if scope_is_empty(scope):
        return VirtualMachine.objects.none()
    guests = VirtualMachine.objects.filter(gone_since__isnull=True)
    if ids := scope.get("vms"):
        guests = guests.filter(pk__in=ids)
    if names := scope.get("clusters"):
        guests = guests.filter(cluster__name__in=names)
    if pools := scope.get("pools"):
        guests = guests.filter(pool__in=pools)
    if classes := scope.get("classifications"):
        guests = guests.filter(classification__in=classes)
    if tags := scope.get("tags"):
        any_tag = Q()
        for tag in tags:
            # tags_text is the ";"-joined tag list: match whole items only.
            any_tag |= (
                Q(tags_text=tag)
                | Q(tags_text__startswith=f"{tag};")
                | Q(tags_text__endswith=f";{tag}")
                | Q(tags_text__contains=f";{tag};")
            )
        guests = guests.filter(any_tag)
    if slugs := scope.get("teams"):
        current = Ownership.objects.filter(until__isnull=True, team__slug__in=slugs)
        guests = guests.filter(pk__in=current.values("vm_id"))
    return guests


def _pinning_check(
    document: dict[str, Any],
    refuse,
    *,
    policy_id: int | None,
    others: Iterable[Mapping[str, Any]] | None,
) -> None:
    allowed = set(document["parameters"]["allowed_nodes"])
    scope = document["scope"]
    clusters = Cluster.objects.all()
    # Without a cluster list, the scope may reach guests on any cluster.
    if names := scope.get("clusters"):
        clusters = clusters.filter(name__in=names)
    nodes = set(
        Node.objects.filter(cluster__in=clusters, gone_since__isnull=True).values_list(
            "name", flat=True
        )
    )
    if unknown := sorted(allowed - nodes):
        refuse(
            "parameters",
            f"Unknown node(s) {_join(unknown)} in allowed_nodes; the clusters in scope have "
            f"{_join(sorted(nodes)) or 'no nodes'}.",
        )
        return
    if others is None:
        stored = Policy.objects.filter(kind=PolicyKind.HOST_PINNING, enabled=True).exclude(
            pk=policy_id
        )
        others = [
            {"name": p.name, "scope": p.scope, "parameters": p.parameters, "enabled": p.enabled}
            for p in stored
        ]
    if not document["enabled"]:
        return
    mine = scope_queryset(scope)
    for other in others:
        if other.get("name") == document["name"] or not other.get("enabled", True):
            continue
        if other.get("kind", PolicyKind.HOST_PINNING) != PolicyKind.HOST_PINNING:
            continue
        theirs = set((other.get("parameters") or {}).get("allowed_nodes") or ())
        if allowed & theirs:
            continue
        both = mine.filter(pk__in=scope_queryset(other.get("scope") or {}).values("pk"))
        shared = list(both.order_by("pk").values_list("pk", flat=True)[: _SHOWN + 1])
        if shared:
            more = " and more" if len(shared) > _SHOWN else ""
            refuse(
                "__all__",
                f'Contradicts policy "{other["name"]}": VM(s) {_join(shared[:_SHOWN])}{more} '
                f"are in both scopes but no node is allowed by both (here: "
                f"{_join(sorted(allowed))}; there: {_join(sorted(theirs))}). Make the node "
                "lists overlap or the scopes disjoint.",
            )
