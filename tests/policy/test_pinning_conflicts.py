"""Contradicting host-pinning policies at evaluation time (pure) and inside one imported
YAML file (refused with a message)."""

from __future__ import annotations

import pytest
import yaml
from django.core.exceptions import ValidationError

from policy.evaluation import evaluate_fleet
from policy.services import policy_import_plan
from tests.inventory.estate import make_estate
from tests.policy.builders import NOW, fleet, spec, vm


def _pin(policy_id: int, name: str, nodes: list[str], **scope) -> object:
    return spec(
        "host_pinning",
        {"allowed_nodes": nodes},
        id=policy_id,
        name=name,
        scope=scope or {"clusters": ["pve-1"]},
    )


def test_a_guest_under_two_pinnings_without_a_common_node_gets_one_finding_and_no_remedy():
    facts = fleet(
        vm(1, node="node1", tags=frozenset({"lab"})),  # in both scopes: contradicted
        vm(2, node="node3"),  # only in pin-a's scope: an ordinary pinning finding
    )
    policies = [
        _pin(1, "pin-a", ["node1"]),
        _pin(2, "pin-b", ["node2"], tags=["lab"]),
    ]

    found = evaluate_fleet(policies, facts, {}, NOW)

    by_vm = {(f.vm_id, f.policy_name, f.rule_key): f for f in found}
    assert set(by_vm) == {(1, "pin-a", "contradiction"), (2, "pin-a", "node")}
    clash = by_vm[(1, "pin-a", "contradiction")]
    assert clash.summary.startswith(
        "contradicting policies pin-a and pin-b: no node allowed by both"
    )
    assert clash.evidence["policies"] == {"pin-a": ["node1"], "pin-b": ["node2"]}
    assert clash.remedies == ()
    assert not clash.enforced  # never migrated back and forth
    assert by_vm[(2, "pin-a", "node")].remedies  # the other guest is still moved


def test_overlapping_or_disabled_pinnings_are_no_contradiction():
    facts = fleet(vm(1, node="node3", tags=frozenset({"lab"})))
    overlapping = [_pin(1, "pin-a", ["node1", "node2"]), _pin(2, "pin-b", ["node2"], tags=["lab"])]
    found = evaluate_fleet(overlapping, facts, {}, NOW)
    assert sorted(f.policy_name for f in found) == ["pin-a", "pin-b"]
    assert all(f.rule_key == "node" for f in found)
    disabled = [_pin(1, "pin-a", ["node1"]), _pin(2, "pin-b", ["node2"], tags=["lab"])]
    disabled[1] = disabled[1]._replace(enabled=False)
    assert [f.rule_key for f in evaluate_fleet(disabled, facts, {}, NOW)] == ["node"]


@pytest.mark.django_db
def test_contradiction_inside_one_imported_yaml_file_is_refused_with_a_message():
    make_estate()
    text = _yaml(
        [
            {"name": "pin-a", "nodes": ["node1"]},
            {"name": "pin-b", "nodes": ["node2"]},
        ]
    )
    with pytest.raises(ValidationError) as caught:
        policy_import_plan(text=text)
    messages = caught.value.messages
    assert any(
        m.startswith('Policy #1 "pin-a": Contradicts policy "pin-b": VM(s) ')
        and "no node is allowed by both (here: node1; there: node2)" in m
        and "Make the node lists overlap or the scopes disjoint." in m
        for m in messages
    ), messages


def _yaml(items: list[dict]) -> str:
    return yaml.safe_dump(
        {
            "policies": [
                {
                    "name": item["name"],
                    "kind": "host_pinning",
                    "mode": "enforce",
                    "enabled": True,
                    "scope": {"clusters": ["pve-test"]},
                    "parameters": {"allowed_nodes": item["nodes"]},
                }
                for item in items
            ]
        },
        sort_keys=False,
    )
