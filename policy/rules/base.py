"""What every rule kind provides, and the helpers rules share.

A rule kind is a ``Rule``: ``evaluate(vm, params, ctx) -> list[Finding]`` (pure, per
guest); optionally ``candidates(vms, params, ctx)``, a cheap superset filter so that
``evaluate`` runs only on guests that may have something to find; optionally
``evaluate_cluster(cluster, params, ctx, vms) -> list[Finding]`` for findings about a
cluster (ACLs); ``remedies(finding, params) -> tuple[Action, ...]`` (pure: what enforce
mode would do); and ``params`` (the parameter schema, from which ``clean_params``
validates and fills defaults); and ``facets``, the optional parts of the facts its
evaluation reads (``policy.facts.FACETS``), so a reconcile of some policies reads only
those. Rules never read the database: ``ctx`` carries the policy, the fleet facts and
"now".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from policy.facts import ClusterFacts, FleetFacts, VmFacts
from policy.findings import Action, Finding

Params = Mapping[str, Any]


class PolicySpec(NamedTuple):
    """A policy as plain data (from a ``Policy`` row or a document being previewed;
    ``id`` 0 for a policy not saved yet)."""

    id: int
    name: str
    kind: str
    mode: str
    scope: Mapping[str, Sequence[Any]]
    parameters: Params
    enabled: bool = True

    @classmethod
    def of(cls, policy: Any) -> PolicySpec:
        return cls(
            policy.pk or 0,
            policy.name,
            policy.kind,
            policy.mode,
            policy.scope or {},
            policy.parameters or {},
            policy.enabled,
        )


class RuleContext(NamedTuple):
    policy: PolicySpec
    fleet: FleetFacts
    now: datetime


class Param(NamedTuple):
    """One parameter: ``type`` is ``int`` (>= 0), ``bool``, ``str``, ``list`` (of
    strings) or a tuple of allowed strings; ``default`` None with ``required`` False means
    "no limit"."""

    type: Any
    default: Any
    help: str
    required: bool = False


class Rule(NamedTuple):
    kind: str
    params: Mapping[str, Param]
    evaluate: Callable[[VmFacts, Params, RuleContext], list[Finding]]
    remedies: Callable[[Finding, Params], tuple[Action, ...]]
    evaluate_cluster: (
        Callable[[ClusterFacts, Params, RuleContext, Mapping[int, VmFacts]], list[Finding]] | None
    ) = None
    # A cheap superset of the guests ``evaluate`` can find anything on (one comprehension
    # instead of a call per guest): what keeps 100,000 guests x 20 policies under budget.
    candidates: Callable[[list[VmFacts], Params, RuleContext], list[VmFacts]] | None = None
    # The optional facts facets ``evaluate`` and ``candidates`` read (see policy.facts).
    facets: frozenset[str] = frozenset()


NONE: list[Finding] = []


def vm_finding(ctx: RuleContext, vm: VmFacts, key: str, summary: str, **evidence: Any) -> Finding:
    """A finding about ``vm``; its node always goes into the evidence."""
    policy = ctx.policy
    return Finding(
        policy.id,
        policy.name,
        policy.kind,
        policy.mode,
        vm.cluster_id,
        vm.id,
        vm.vmid,
        key,
        summary,
        {"node": vm.node, **evidence},
    )


def action(finding: Finding, kind: str, description: str, **params: Any) -> Action:
    """An action on the finding's guest (or cluster)."""
    return Action(
        kind,
        finding.cluster_id,
        finding.vm_id,
        finding.vmid,
        str(finding.evidence.get("node", "")),
        params,
        description,
    )


def iso(moment: date | None) -> str | None:
    """``moment.isoformat()``, remembered: guests synced together share their timestamps,
    so tens of thousands of findings format a few hundred distinct moments."""
    return None if moment is None else _formatted(moment, _offset(moment), "")


def day(moment: date) -> str:
    """``YYYY-MM-DD`` of ``moment``, remembered like ``iso``."""
    return _formatted(moment, _offset(moment), "%Y-%m-%d")


def _offset(moment: date) -> object:
    # Part of the key: equal instants in two time zones format differently.
    return moment.utcoffset() if isinstance(moment, datetime) else None


@lru_cache(maxsize=4096)
def _formatted(moment: date, offset: object, pattern: str) -> str:
    return moment.strftime(pattern) if pattern else moment.isoformat()


def no_remedies(finding: Finding, params: Params) -> tuple[Action, ...]:
    return ()
