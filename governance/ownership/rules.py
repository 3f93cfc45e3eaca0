"""Ownership rules: map guests to a team (and owner) by cluster, pool, tag or name.

Invariants:
- A rule's conditions are one SQL ``Q`` (``rule_q``), so matching at sync, counting the
  guests a new rule would catch and running a rule over the estate agree, and no guest
  list is loaded to match it.
- Rules only ever give an owner to guests without ownership history (new at sync) or,
  when run by an admin, to unowned live guests: they never take a VM from someone.
- Among enabled rules, the lowest ``priority`` (then the oldest) wins; each guest is
  matched by at most one rule.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from governance.accounts.models import Team, User
from governance.audit.services import audit_record
from governance.notifications.services import notify_many
from governance.ownership.events import holders_changed_send
from governance.ownership.mirror import PREFIXES as MIRROR_PREFIXES
from governance.ownership.mirror import mirror_after_commit
from governance.ownership.models import Ownership, OwnershipRule, OwnershipSource
from inventory.models import Cluster, VirtualMachine

logger = logging.getLogger(__name__)


def glob_to_regex(pattern: str) -> str:
    """A shell glob over one tag as a regex over ``tags_text`` (tags joined by ``;``).

    ``*`` and ``?`` never cross a ``;``, so ``web-*`` matches the tag ``web-1`` but not
    a ``web-`` prefix spanning two tags. Other characters match themselves.
    """
    body = "".join(
        "[^;]*" if char == "*" else "[^;]" if char == "?" else re.escape(char) for char in pattern
    )
    return f"(^|;){body}(;|$)"


def rule_q(rule: OwnershipRule) -> Q:
    """The guests ``rule`` matches: every non-empty condition must hold."""
    q = Q()
    if rule.cluster_id is not None:
        q &= Q(cluster_id=rule.cluster_id)
    if rule.pool:
        q &= Q(pool=rule.pool)
    if rule.tag_pattern:
        q &= Q(tags_text__regex=glob_to_regex(rule.tag_pattern))
    if rule.name_regex:
        q &= Q(name__regex=rule.name_regex)
    return q


def _has_history() -> Exists:
    return Exists(Ownership.objects.filter(vm_id=OuterRef("pk")))


def unowned_live_vms() -> QuerySet[VirtualMachine]:
    """Live guests with no current owner (no ownership row, or a current row without one)."""
    owned = Ownership.objects.filter(vm_id=OuterRef("pk"), until__isnull=True, owner__isnull=False)
    return VirtualMachine.objects.filter(gone_since__isnull=True).filter(~Exists(owned))


def rule_check(rule: OwnershipRule) -> None:
    """``ValidationError`` for a rule that cannot be saved (conditions, regex, owner)."""
    errors: dict[str, str] = {}
    if not (rule.cluster_id or rule.pool or rule.tag_pattern or rule.name_regex):
        errors["__all__"] = "Give at least one condition: a cluster, a pool, a tag or a name."
    if rule.tag_pattern.lower().startswith(MIRROR_PREFIXES):
        # Those tags are Steward's own mirror of ownership; reading them back would make
        # Proxmox the truth (a clone inherits its parent's owner tag).
        errors["tag_pattern"] = (
            "Tags starting with owner- or team- are written by Steward; match on another tag."
        )
    if rule.name_regex:
        try:
            re.compile(rule.name_regex)
        except re.error as error:
            errors["name_regex"] = f"Not a valid regular expression: {error}."
    if rule.owner is not None and not rule.owner.is_active:
        errors["owner"] = f"{rule.owner.get_username()} is deactivated; choose an active user."
    if errors:
        raise ValidationError(errors)


UNMATCHED = (
    "This rule matches no VM Steward knows; check the conditions, or confirm that it is "
    "meant for VMs that do not exist yet."
)
PREVIEW_ROWS = 20


def _check_matches(rule: OwnershipRule) -> None:
    if not VirtualMachine.objects.filter(rule_q(rule)).exists():
        raise ValidationError(UNMATCHED)


@dataclass(frozen=True)
class RulePreview:
    """What a rule would match now (a dry run): live guests, the unowned among them (what
    running it would assign) and the first few, for the form to show before saving."""

    matching: int
    unowned: int
    sample: list[VirtualMachine]


def ownership_rule_preview(*, rule: OwnershipRule) -> RulePreview:
    """Dry run of an unsaved or saved ``rule``: nothing is written. Three queries."""
    rule_check(rule)
    live = VirtualMachine.objects.filter(gone_since__isnull=True).filter(rule_q(rule))
    sample = list(
        live.select_related("cluster")
        .only("pk", "vmid", "name", "cluster__name")
        .order_by("cluster__name", "vmid", "pk")[:PREVIEW_ROWS]
    )
    unowned = unowned_live_vms().filter(rule_q(rule)).count()
    return RulePreview(matching=live.count(), unowned=unowned, sample=sample)


def _state(rule: OwnershipRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "priority": rule.priority,
        "enabled": rule.enabled,
        "cluster": rule.cluster_id,
        "pool": rule.pool,
        "tag_pattern": rule.tag_pattern,
        "name_regex": rule.name_regex,
        "team": rule.team_id,
        "owner": rule.owner_id,
    }


def ownership_rule_create(
    *,
    actor: User,
    name: str,
    team: Team,
    owner: User | None = None,
    cluster: Cluster | None = None,
    pool: str = "",
    tag_pattern: str = "",
    name_regex: str = "",
    priority: int = 100,
    enabled: bool = True,
    allow_unmatched: bool = False,
) -> OwnershipRule:
    """Create a rule for guests discovered from now on.

    ``ValidationError`` for a rule without conditions, a bad regex, a deactivated owner,
    a taken name, or (unless ``allow_unmatched``, for a pool or name not in use yet) a
    rule that matches no guest Steward knows: that is almost always a typo.
    """
    rule = OwnershipRule(
        name=name.strip(),
        team=team,
        owner=owner,
        cluster=cluster,
        pool=pool.strip(),
        tag_pattern=tag_pattern.strip(),
        name_regex=name_regex.strip(),
        priority=priority,
        enabled=enabled,
        created_by=actor,
    )
    rule_check(rule)
    rule.full_clean()
    if not allow_unmatched:
        _check_matches(rule)
    with transaction.atomic():
        rule.save()
        audit_record(actor=actor, action="ownership.rule_create", target=rule, after=_state(rule))
    return rule


def ownership_rule_update(
    *, actor: User, rule: OwnershipRule, allow_unmatched: bool = False, **fields: Any
) -> OwnershipRule:
    """Change a rule's fields (those of ``ownership_rule_create``); audited before/after.

    Changed conditions that match no VM are refused as at creation (unless
    ``allow_unmatched``); disabling or renaming a rule never is.
    """
    allowed = {
        "name",
        "team",
        "owner",
        "cluster",
        "pool",
        "tag_pattern",
        "name_regex",
        "priority",
        "enabled",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"ownership_rule_update() got unknown fields: {sorted(unknown)}")
    with transaction.atomic():
        rule = OwnershipRule.objects.select_for_update().get(pk=rule.pk)
        before = _state(rule)
        for field, value in fields.items():
            setattr(rule, field, value.strip() if isinstance(value, str) else value)
        rule_check(rule)
        rule.full_clean()
        conditions = ("cluster", "pool", "tag_pattern", "name_regex")
        if not allow_unmatched and any(before[f] != _state(rule)[f] for f in conditions):
            _check_matches(rule)
        rule.save()
        audit_record(
            actor=actor,
            action="ownership.rule_update",
            target=rule,
            before=before,
            after=_state(rule),
        )
    return rule


def _assign(
    *,
    rule: OwnershipRule,
    candidates: QuerySet[VirtualMachine],
    actor: User | None,
    now: Any,
) -> list[int]:
    """Open rule-made rows for the ``candidates`` the rule matches; their ids.

    Candidates must be unowned; their current rows (team-only ones) are closed first.
    """
    matched = list(candidates.filter(rule_q(rule)).values_list("pk", flat=True))
    if not matched:
        return []
    current = {
        row.vm_id: row
        for row in Ownership.objects.select_for_update().filter(
            vm_id__in=matched, until__isnull=True
        )
    }
    Ownership.objects.filter(pk__in=[row.pk for row in current.values()]).update(until=now)
    Ownership.objects.bulk_create(
        [
            Ownership(
                vm_id=vm_id,
                owner_id=rule.owner_id,
                custodian_id=current[vm_id].custodian_id if vm_id in current else None,
                team_id=rule.team_id,
                lease_end=current[vm_id].lease_end if vm_id in current else None,
                since=now,
                set_by=actor,
                source=OwnershipSource.RULE,
                reason=f"rule {rule.name!r}",
            )
            for vm_id in matched
        ],
        batch_size=1000,
    )
    mirror_after_commit(matched)
    holders_changed_send(matched)
    audit_record(
        actor=actor,
        action="ownership.rule_apply",
        target=rule,
        after={"team": rule.team_id, "owner": rule.owner_id, "vms": matched},
    )
    return matched


def _notify(rule: OwnershipRule, count: int) -> None:
    if rule.owner_id is None or not count:
        return
    notify_many(
        users=[rule.owner],
        kind="ownership.rule_assigned",
        subject=f"Rule {rule.name!r} made you the owner of {count} VM(s)",
        link="/inventory/vms/",
    )


def enabled_rules() -> list[OwnershipRule]:
    """Enabled rules in priority order; a rule whose owner was deactivated is left out
    (and logged), since giving VMs to someone who left helps nobody."""
    enabled = OwnershipRule.objects.filter(enabled=True).select_related("owner")
    rules = list(enabled.order_by("priority", "id"))
    for rule in rules:
        if rule.owner is not None and not rule.owner.is_active:
            logger.warning("ownership rule %r skipped: its owner is deactivated", rule.name)
    return [rule for rule in rules if rule.owner is None or rule.owner.is_active]


def ownership_rule_apply(*, vm_ids: Sequence[int]) -> dict[int, int]:
    """Apply the enabled rules to newly discovered guests; ``{rule id: guests assigned}``.

    Only live guests without any ownership history are touched, so a rerun, or a guest
    someone already assigned, changes nothing. One transaction; one query per rule to
    match, plus the writes.
    """
    if not vm_ids:
        return {}
    rules = enabled_rules()
    if not rules:
        return {}
    counts: dict[int, int] = {}
    try:
        with transaction.atomic():
            now = timezone.now()
            remaining = set(vm_ids)
            for rule in rules:
                if not remaining:
                    break
                candidates = VirtualMachine.objects.filter(
                    pk__in=sorted(remaining), gone_since__isnull=True
                ).filter(~_has_history())
                matched = _assign(rule=rule, candidates=candidates, actor=None, now=now)
                remaining.difference_update(matched)
                if matched:
                    counts[rule.pk] = len(matched)
            for rule in rules:
                _notify(rule, counts.get(rule.pk, 0))
    except IntegrityError:
        # Someone assigned one of these guests at the same moment; theirs stands.
        logger.warning("ownership rules skipped for %s guests: assigned concurrently", len(vm_ids))
        return {}
    return counts


def ownership_rule_run(*, actor: User, rule: OwnershipRule) -> int:
    """An admin applies ``rule`` to every unowned live guest it matches now; how many.

    ``ValidationError`` (nothing changed) when the rule matches no unowned live guest.
    """
    with transaction.atomic():
        rule = OwnershipRule.objects.select_related("owner").get(pk=rule.pk)
        if rule.owner_id is not None and not rule.owner.is_active:
            raise ValidationError(
                f"The rule's owner {rule.owner.get_username()} is deactivated; change the rule."
            )
        matched = _assign(rule=rule, candidates=unowned_live_vms(), actor=actor, now=timezone.now())
        if not matched:
            raise ValidationError(f"Rule {rule.name!r} matches no unowned VM; nothing changed.")
        _notify(rule, len(matched))
    return len(matched)
