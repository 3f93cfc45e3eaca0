"""Importing a YAML file of policies: parse and validate everything, preview every changed
policy, then save the changed ones in one transaction.

A file is refused as a whole when any document is: nothing is saved half-way. Policies
missing from the file are left as they are (disable them explicitly).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from policy.facts import facts_load
from policy.models import Policy, PolicyKind
from policy.rules import RULES
from policy.services.policies import DryRun, dry_run_cleaned, policy_save
from policy.validation import document_clean
from policy.yaml_io import document_of, policies_parse


@dataclass
class ImportItem:
    """One document of the file: ``change`` is ``new``, ``changed`` or ``unchanged``."""

    document: dict[str, Any]
    policy: Policy | None
    change: str
    dry_run: DryRun | None = None


@dataclass
class ImportPlan:
    """The parsed, validated file. ``base_versions_key`` fingerprints the stored versions
    of the policies it touches, so a preview is stale once any of them is saved again."""

    items: list[ImportItem] = field(default_factory=list)
    base_versions_key: str = ""

    @property
    def changed(self) -> list[ImportItem]:
        return [item for item in self.items if item.change != "unchanged"]


def policy_import_plan(*, text: str, preview: bool = True) -> ImportPlan:
    """Parse and validate ``text``; with ``preview``, dry-run every changed document."""
    documents = policies_parse(text)
    stored = {p.name: p for p in Policy.objects.filter(name__in=[d.get("name") for d in documents])}
    # Contradictions are checked against the file's pinning policies plus the stored
    # enabled ones the file does not replace.
    pinning = [d for d in documents if d.get("kind") == PolicyKind.HOST_PINNING]
    names = {d.get("name") for d in documents}
    others = pinning + [
        {**document_of(p), "kind": p.kind}
        for p in Policy.objects.filter(kind=PolicyKind.HOST_PINNING, enabled=True).exclude(
            name__in=names
        )
    ]
    plan, problems = ImportPlan(), []
    for number, document in enumerate(documents, start=1):
        name = str(document.get("name")).strip()
        policy = stored.get(name)
        try:
            cleaned = document_clean(
                document, policy_id=policy.pk if policy else None, others=others
            )
        except ValidationError as error:
            problems.extend(f'Policy #{number} "{name}": {m}' for m in _messages(error))
            continue
        if policy is None:
            change = "new"
        else:
            change = "unchanged" if document_of(policy) == cleaned else "changed"
        plan.items.append(ImportItem(cleaned, policy, change))
    if problems:
        raise ValidationError(problems)
    versions = sorted((i.document["name"], i.policy.version if i.policy else 0) for i in plan.items)
    plan.base_versions_key = hashlib.sha256(repr(versions).encode()).hexdigest()[:32]
    if preview and plan.changed:
        now = timezone.now()
        kinds = {item.document["kind"] for item in plan.changed}
        facts = facts_load(now=now, facets=frozenset().union(*(RULES[k].facets for k in kinds)))
        for item in plan.changed:
            item.dry_run = dry_run_cleaned(item.document, policy=item.policy, now=now, facts=facts)
    return plan


def policy_import_apply(*, actor: Any, plan: ImportPlan, comment: str = "") -> list[Policy]:
    """Save every changed document of ``plan`` in one transaction; the saved policies."""
    saved = []
    with transaction.atomic():
        for item in plan.changed:
            saved.append(
                policy_save(
                    actor=actor,
                    document=item.document,
                    policy=item.policy,
                    comment=comment or "Imported from YAML",
                )
            )
    return saved


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            f"{field}: {message}" if field != "__all__" else message
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return list(error.messages)
