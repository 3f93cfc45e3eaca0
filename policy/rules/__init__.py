"""The rule kinds, one module each; ``RULES`` maps a ``PolicyKind`` value to its ``Rule``.

``clean_params`` validates a policy's parameters against its kind's schema and fills
the defaults; evaluation always runs on cleaned parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policy.models import PolicyKind
from policy.rules import (
    copy_limits,
    data_lifetime,
    dormancy_quarantine,
    host_pinning,
    identity_conflicts,
    no_removable_media,
    ownership,
    rollback_awareness,
    unbacked_acl,
)
from policy.rules.base import Param, PolicySpec, Rule, RuleContext

__all__ = ["RULES", "Param", "PolicySpec", "Rule", "RuleContext", "clean_params", "facets_for"]

RULES: dict[str, Rule] = {
    rule.kind: rule
    for rule in (
        host_pinning.RULE,
        no_removable_media.RULE,
        copy_limits.RULE,
        data_lifetime.RULE,
        dormancy_quarantine.RULE,
        rollback_awareness.RULE,
        ownership.OWNERSHIP_RULE,
        ownership.LEASE_RULE,
        identity_conflicts.RULE,
        unbacked_acl.RULE,
    )
}
assert set(RULES) == set(PolicyKind.values), "every policy kind needs a rule"


def facets_for(policies: Iterable[PolicySpec]) -> frozenset[str]:
    """The optional facts facets (``policy.facts.FACETS``) evaluating ``policies`` reads."""
    return frozenset().union(*(RULES[p.kind].facets for p in policies if p.enabled))


def clean_params(
    kind: str, parameters: Mapping[str, Any] | None
) -> tuple[dict[str, Any], list[str]]:
    """``(cleaned parameters, problems)``: defaults filled, types checked; each problem says
    what to fix."""
    schema = RULES[kind].params
    given = dict(parameters or {})
    problems = [
        f'Unknown parameter "{name}" for {kind}; known: {", ".join(schema) or "none"}.'
        for name in given
        if name not in schema
    ]
    cleaned: dict[str, Any] = {}
    for name, param in schema.items():
        value = given.get(name, param.default)
        if value is None or value == [] or value == "":
            if param.required:
                problems.append(f'Parameter "{name}" is required: {param.help}')
            cleaned[name] = param.default if value is None else value
            continue
        value, problem = _coerce(name, param, value)
        if problem:
            problems.append(problem)
        cleaned[name] = value
    return cleaned, problems


def _coerce(name: str, param: Param, value: Any) -> tuple[Any, str]:
    kind = param.type
    if kind is bool:
        if isinstance(value, bool):
            return value, ""
        return value, f'Parameter "{name}" must be true or false, not {value!r}.'
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return value, f'Parameter "{name}" must be a whole number of 0 or more, not {value!r}.'
        return value, ""
    if kind is str:
        if not isinstance(value, str):
            return value, f'Parameter "{name}" must be text, not {value!r}.'
        return value.strip(), ""
    if kind is list:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return value, f'Parameter "{name}" must be a list of names, not {value!r}.'
        return sorted(set(value)), ""
    if value not in kind:
        return value, f'Parameter "{name}" must be one of {", ".join(kind)}, not {value!r}.'
    return value, ""
