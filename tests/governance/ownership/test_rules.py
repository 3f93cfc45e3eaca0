"""Ownership rules: SQL matching, refused bad rules, applied to new guests at sync (pvesim)."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from governance.audit.models import AuditEvent
from governance.ownership.models import Ownership, OwnershipRule, OwnershipSource
from governance.ownership.rules import (
    glob_to_regex,
    ownership_rule_apply,
    ownership_rule_create,
    ownership_rule_run,
)
from governance.ownership.services import ownership_assign
from inventory.models import VirtualMachine
from inventory.sync.service import cluster_sync

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("tags", "matches"),
    [
        ("web-1", True),
        ("prod;web-1", True),
        ("web-1;x", True),
        ("web-", True),
        ("web", False),
        ("aweb-1", False),
        ("prod", False),
    ],
)
def test_tag_globs_match_whole_tags(tags, matches):
    assert bool(re.search(glob_to_regex("web-*"), tags)) is matches


def test_rules_without_conditions_bad_regex_or_no_match_are_refused(people, estate):
    with pytest.raises(ValidationError, match="at least one condition"):
        ownership_rule_create(actor=people.admin, name="all", team=people.ops)
    with pytest.raises(ValidationError, match="Not a valid regular expression"):
        ownership_rule_create(actor=people.admin, name="bad", team=people.ops, name_regex="(")
    with pytest.raises(ValidationError, match="matches no VM"):
        ownership_rule_create(actor=people.admin, name="typo", team=people.ops, pool="porod")
    people.bob.is_active = False
    people.bob.save()
    with pytest.raises(ValidationError, match="bob is deactivated"):
        ownership_rule_create(
            actor=people.admin, name="b", team=people.ops, owner=people.bob, name_regex="^web"
        )
    assert not OwnershipRule.objects.exists()
    rule = ownership_rule_create(
        actor=people.admin, name="future", team=people.ops, pool="porod", allow_unmatched=True
    )
    assert AuditEvent.objects.filter(action="ownership.rule_create", target_id=str(rule.pk))


def test_the_highest_priority_rule_wins_and_only_unowned_history_free_guests_change(people, estate):
    web, old, template = estate["web"], estate["old"], estate["template"]
    ownership_rule_create(
        actor=people.admin,
        name="web",
        team=people.ops,
        owner=people.alice,
        tag_pattern="we?",
        priority=10,
    )
    ownership_rule_create(actor=people.admin, name="all-test", team=people.dev, name_regex=".")
    ownership_assign(actor=people.admin, vm=old, owner=people.carol, reason="hers")

    counts = ownership_rule_apply(vm_ids=[web.pk, old.pk, template.pk])

    current = {r.vm_id: r for r in Ownership.objects.filter(until__isnull=True)}
    assert (current[web.pk].team, current[web.pk].owner) == (people.ops, people.alice)
    assert (current[template.pk].team, current[template.pk].owner) == (people.dev, None)
    assert current[old.pk].owner == people.carol  # rules never take a VM from someone
    assert current[web.pk].source == OwnershipSource.RULE
    assert current[web.pk].set_by is None
    assert sorted(counts.values()) == [1, 1]
    assert ownership_rule_apply(vm_ids=[web.pk, old.pk, template.pk]) == {}


def test_running_a_rule_that_matches_no_unowned_vm_changes_nothing(people, estate):
    rule = ownership_rule_create(actor=people.admin, name="web", team=people.ops, name_regex="^web")
    ownership_assign(actor=people.admin, vm=estate["web"], owner=people.alice, reason="r")
    with pytest.raises(ValidationError, match="matches no unowned VM; nothing changed"):
        ownership_rule_run(actor=people.admin, rule=rule)
    assert Ownership.objects.count() == 1

    rule2 = ownership_rule_create(actor=people.admin, name="db", team=people.dev, name_regex="db")
    assert ownership_rule_run(actor=people.admin, rule=rule2) == 1
    assert Ownership.objects.get(vm=estate["old"], until__isnull=True).team == people.dev


def _sync(cluster, capture):
    # The sync announces new guests on commit; the test's transaction never commits.
    with capture(execute=True):
        run = cluster_sync(cluster_id=cluster.pk)
    assert run.status == "ok", run.error


def test_rules_are_applied_to_new_guests_at_sync(
    people, sim, cluster_for, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    cluster = cluster_for(sim)
    ownership_rule_create(
        actor=people.admin, name="prod pool", team=people.ops, pool="prod", allow_unmatched=True
    )
    _sync(cluster, capture)

    expected = {g.vmid for g in sim.cluster.estate.guests.values() if g.pool == "prod"}
    assert expected, "the scenario has guests in the prod pool"
    assigned = set(
        Ownership.objects.filter(until__isnull=True, team=people.ops).values_list(
            "vm__vmid", flat=True
        )
    )
    assert assigned == expected
    assert Ownership.objects.exclude(vm__vmid__in=expected).count() == 0

    # A second sync discovers nothing new and writes no ownership.
    _sync(cluster, capture)
    assert Ownership.objects.count() == len(expected)
    # A guest created out of band is matched when the next sync discovers it.
    newid = max(sim.cluster.estate.guests) + 1
    source = next(g for g in sim.cluster.estate.guests.values() if g.pool == "prod")
    response = sim.api(
        "POST",
        f"/nodes/{source.node}/{source.kind}/{source.vmid}/clone",
        data={"newid": newid, "pool": "prod", **({"full": 1} if source.kind == "qemu" else {})},
    )
    assert response.status_code == 200, response.text
    sim.advance(600)
    _sync(cluster, capture)
    clone = VirtualMachine.objects.get(cluster=cluster, vmid=newid, gone_since__isnull=True)
    if clone.pool == "prod":
        assert Ownership.objects.get(vm=clone).team == people.ops
    else:  # the simulator did not put the clone in the pool: the rule must not match it
        assert not Ownership.objects.filter(vm=clone).exists()
