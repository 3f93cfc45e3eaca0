"""Services over the database: validation refusals, versioned saves, YAML round trip,
dry runs that change nothing, and level-triggered reconcile cycles."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from governance.audit.models import AuditEvent
from governance.notifications.models import Notification
from governance.ownership.models import Ownership
from inventory.models import GuestDevice, VirtualMachine
from inventory.signals import sync_finished_send
from policy.models import Policy, PolicyVersion, Remediation, RemediationRunState, Violation
from policy.services import (
    policy_dry_run,
    policy_import_apply,
    policy_import_plan,
    policy_save,
    reconcile,
)
from policy.yaml_io import policies_dump, policies_parse
from tests.factories import UserFactory
from tests.inventory.estate import make_estate

pytestmark = pytest.mark.django_db


def pinning(name: str = "pin", nodes: tuple[str, ...] = ("node1",), **fields) -> dict:
    return {
        "name": name,
        "kind": "host_pinning",
        "mode": fields.pop("mode", "enforce"),
        "scope": fields.pop("scope", {"clusters": ["pve-test"]}),
        "parameters": {"allowed_nodes": list(nodes)},
        **fields,
    }


@pytest.fixture
def estate():
    return make_estate()


@pytest.fixture
def officer():
    return UserFactory(username="sec")


def refusal(document: dict, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        policy_save(actor=None, document=document, **kwargs)
    return caught.value.message_dict


# --- bad input --------------------------------------------------------------------------


def test_unknown_node_is_refused_with_the_nodes_that_exist(estate) -> None:
    errors = refusal(pinning(nodes=("node1", "nodeX")))
    assert errors["parameters"] == [
        "Unknown node(s) nodeX in allowed_nodes; the clusters in scope have node1, node2."
    ]


def test_empty_scope_is_refused(estate) -> None:
    errors = refusal(pinning(scope={"tags": []}))
    assert "The scope is empty" in errors["scope"][0]


def test_unknown_scope_names_and_bad_parameters_say_what_to_fix(estate) -> None:
    errors = refusal(
        {
            "name": "x",
            "kind": "copy_limits",
            "scope": {"clusters": ["nope"], "classifications": ["secret"]},
            "parameters": {"max_clones": -1, "colour": "red"},
        }
    )
    assert errors["scope.clusters"] == ["Unknown clusters nope; known: pve-test."]
    assert errors["scope.classifications"] == [
        "Unknown classifications secret; known: internal, public, sensitive."
    ]
    assert any('Unknown parameter "colour"' in m for m in errors["parameters"])
    assert any('"max_clones" must be a whole number' in m for m in errors["parameters"])


def test_contradicting_pinning_policies_are_refused(estate) -> None:
    policy_save(actor=None, document=pinning("pin-a", ("node1",)))
    errors = refusal(pinning("pin-b", ("node2",)))
    (message,) = errors["__all__"]
    assert message.startswith('Contradicts policy "pin-a": VM(s) ')
    assert "no node is allowed by both (here: node2; there: node1)" in message
    # Overlapping node sets, disjoint scopes or a disabled policy are fine.
    policy_save(actor=None, document=pinning("pin-c", ("node1", "node2")))
    policy_save(actor=None, document=pinning("pin-d", ("node2",), scope={"tags": ["lab"]}))
    policy_save(actor=None, document=pinning("pin-e", ("node2",), enabled=False))


def test_invalid_yaml_is_refused_with_line_and_column() -> None:
    with pytest.raises(ValidationError) as caught:
        policies_parse("policies:\n  - name: a\n   kind: x\n")
    assert "not valid YAML at line 3, column" in caught.value.messages[0]
    with pytest.raises(ValidationError) as caught:
        policies_parse("- name: a\n")
    assert 'a "policies" list at the top' in caught.value.messages[0]


# --- saving, versions, YAML -------------------------------------------------------------


def test_save_versions_and_audits_every_change(estate, officer) -> None:
    policy = policy_save(actor=officer, document=pinning(mode="audit"), comment="first")
    again = policy_save(actor=officer, document=pinning(mode="audit"), policy=policy)
    assert again.version == 1  # nothing changed, no new version
    changed = policy_save(actor=officer, document=pinning(), policy=policy, comment="enforce")
    assert changed.version == 2
    versions = list(PolicyVersion.objects.filter(policy=policy).order_by("version"))
    assert [(v.version, v.document["mode"], v.comment) for v in versions] == [
        (1, "audit", "first"),
        (2, "enforce", "enforce"),
    ]
    events = AuditEvent.objects.filter(action__in=["policy.created", "policy.changed"])
    assert sorted(events.values_list("action", flat=True)) == ["policy.changed", "policy.created"]
    assert events.get(action="policy.changed").before["mode"] == "audit"


def test_yaml_round_trip_and_import(estate, officer) -> None:
    policy_save(actor=officer, document=pinning())
    policy_save(
        actor=officer,
        document={
            "name": "lifetime",
            "kind": "data_lifetime",
            "scope": {"classifications": ["sensitive"]},
            "parameters": {"max_snapshot_age_days": 30},
        },
    )
    text = policies_dump(Policy.objects.order_by("name"))
    documents = policies_parse(text)
    assert [d["name"] for d in documents] == ["lifetime", "pin"]
    plan = policy_import_plan(text=text)
    assert [item.change for item in plan.items] == ["unchanged", "unchanged"]
    edited = text.replace("max_snapshot_age_days: 30", "max_snapshot_age_days: 10")
    plan = policy_import_plan(text=edited)
    assert [item.document["name"] for item in plan.changed] == ["lifetime"]
    assert plan.changed[0].dry_run is not None
    (saved,) = policy_import_apply(actor=officer, plan=plan)
    assert (saved.version, saved.parameters["max_snapshot_age_days"]) == (2, 10)
    assert policies_dump(Policy.objects.order_by("name")) == edited


# --- dry run ----------------------------------------------------------------------------


def test_dry_run_shows_violators_remediations_and_owners_and_changes_nothing(estate) -> None:
    alice = UserFactory(username="alice")
    Ownership.objects.create(
        vm=estate["old"], owner=alice, since=estate["old"].first_seen, source="admin"
    )
    counts = [m.objects.count() for m in (Policy, Violation, Remediation, AuditEvent, Notification)]
    preview = policy_dry_run(document=pinning(nodes=("node1",)))
    assert [(o.vmid, o.node) for o in preview.vms] == [(101, "node2"), (9000, "node2")]
    assert preview.in_scope == 3
    assert [a.kind for _, a in preview.remediations] == ["migrate", "migrate"]
    assert preview.would_remediate
    assert [u.username for u in preview.notify] == ["alice"]
    assert [
        m.objects.count() for m in (Policy, Violation, Remediation, AuditEvent, Notification)
    ] == counts


# --- reconcile --------------------------------------------------------------------------


def test_reconcile_records_plans_once_per_guest_and_is_idempotent(estate) -> None:
    alice = UserFactory(username="alice")
    Ownership.objects.create(
        vm=estate["web"], owner=alice, since=estate["web"].first_seen, source="admin"
    )
    policy_save(
        actor=None,
        document={
            "name": "media",
            "kind": "no_removable_media",
            "mode": "enforce",
            "scope": {"clusters": ["pve-test"]},
            "parameters": {"check_disks": False},
        },
    )
    GuestDevice.objects.create(vm=estate["web"], key="hostpci0", kind="pci", value="0000:01:00.0")
    dry = reconcile(dry_run=True)
    assert Violation.objects.count() == 0
    assert len(dry.planned) == 1

    first = reconcile(trigger="test")
    keys = set(
        Violation.objects.filter(resolved_at__isnull=True).values_list("rule_key", flat=True)
    )
    assert keys == {"usb0", "hostpci0"}
    (run,) = Remediation.objects.all()  # one remediation per guest at a time
    assert run.state == RemediationRunState.PENDING
    assert run.vm_id == estate["web"].pk
    assert Notification.objects.filter(user=alice, kind="policy.violation").count() == 1

    second = reconcile()
    assert second.remediation_ids == []
    assert Remediation.objects.count() == 1
    assert len(second.record.opened) == 0
    assert second.record.refreshed == len(first.record.opened)
    assert Notification.objects.filter(user=alice).count() == 1

    # The remediation finished and removed the device; the next cycle resolves it and
    # plans the next one for the guest.
    Remediation.objects.filter(pk=run.pk).update(state=RemediationRunState.DONE)
    removed = run.params["key"]
    GuestDevice.objects.filter(vm=estate["web"], key=removed).delete()
    third = reconcile()
    assert Violation.objects.get(rule_key=removed, vm=estate["web"]).resolved_at is not None
    assert len(third.remediation_ids) == 1


def test_audit_mode_records_but_never_plans_and_disabling_resolves(estate) -> None:
    policy = policy_save(actor=None, document=pinning(nodes=("node1",), mode="audit"))
    result = reconcile()
    assert len(result.record.opened) == 2
    assert result.planned == []
    assert Remediation.objects.count() == 0
    document = {**pinning(nodes=("node1",), mode="audit"), "enabled": False}
    policy_save(actor=None, document=document, policy=policy)
    reconcile()
    assert not Violation.objects.filter(resolved_at__isnull=True).exists()


def test_a_finished_sync_runs_the_reconciler(estate) -> None:
    policy_save(actor=None, document=pinning(nodes=("node1",), mode="audit"))
    sync_finished_send(cluster_id=estate["cluster"].pk, run_id=1, status="failed")
    assert not Violation.objects.exists()
    sync_finished_send(cluster_id=estate["cluster"].pk, run_id=1, status="ok")
    assert Violation.objects.filter(resolved_at__isnull=True).count() == 2


def test_reconcile_command_dry_run_prints_and_changes_nothing(estate, capsys) -> None:
    policy_save(actor=None, document=pinning(nodes=("node1",)))
    call_command("reconcile", "--dry-run", "--policy", "pin")
    out = capsys.readouterr().out
    assert "pin (enforce) vm 101 node:" in out
    assert "would run: migrate vm 101 on node2" in out
    assert "(dry run: nothing changed)" in out
    assert not Violation.objects.exists()
    assert VirtualMachine.objects.count() == 3
