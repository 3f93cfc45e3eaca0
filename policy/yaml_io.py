"""Policies as YAML, so they can live in version control.

The file format is ``{"policies": [<document>, ...]}`` with one document per policy as
``policy.validation`` defines it. ``policies_dump`` writes every policy; reading it back
with ``policies_parse`` gives the same documents (round trip). Parsing refuses invalid
YAML (with line and column), a wrong top-level shape, and duplicate names, with messages
that say what to fix; the documents themselves are validated by the services.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from django.core.exceptions import ValidationError

from policy.models import Policy

HEADER = "# Steward policies; import them on the Policies page or with the API.\n"


def document_of(policy: Policy) -> dict[str, Any]:
    """The document of a stored policy (what ``PolicyVersion.document`` keeps)."""
    return {
        "name": policy.name,
        "description": policy.description,
        "kind": policy.kind,
        "mode": policy.mode,
        "enabled": policy.enabled,
        "scope": dict(policy.scope or {}),
        "parameters": dict(policy.parameters or {}),
    }


def document_dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


def policies_dump(policies: Iterable[Policy]) -> str:
    documents = [document_of(policy) for policy in policies]
    return HEADER + yaml.safe_dump(
        {"policies": documents}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def policies_parse(text: str) -> list[dict[str, Any]]:
    """The documents of a policies file, or ``ValidationError`` saying what to fix."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ValidationError(
            f"The file is not valid YAML{where}: {problem}. Fix the indentation or quoting there."
        ) from error
    if not isinstance(data, dict) or not isinstance(data.get("policies"), list):
        raise ValidationError(
            'Expected a mapping with a "policies" list at the top, as the export writes it.'
        )
    documents, seen, problems = [], set(), []
    for number, document in enumerate(data["policies"], start=1):
        if not isinstance(document, dict):
            problems.append(f"Policy #{number} is not a mapping of fields to values.")
            continue
        name = str(document.get("name") or "").strip()
        if not name:
            problems.append(f"Policy #{number} has no name.")
        elif name in seen:
            problems.append(f'The name "{name}" appears twice; each policy needs its own name.')
        seen.add(name)
        documents.append(document)
    if problems:
        raise ValidationError(problems)
    return documents
