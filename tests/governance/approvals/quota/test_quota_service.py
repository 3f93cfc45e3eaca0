"""Team quotas at submission and change: usage math (owned guests plus open requests),
one refusal message per limit, no double counting, audited admin-only changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from governance.approvals.models import Request, StepState
from governance.approvals.quota_usage import Size, team_usage
from governance.approvals.services.quota import quota_set
from governance.approvals.services.requests import request_cancel, request_update
from governance.audit.models import AuditEvent
from governance.ownership.services import ownership_assign
from tests.governance.approvals.execution.helpers import approved_request, execution_begin
from tests.governance.approvals.quota.conftest import GIB, limit, provision, submit
from tests.inventory.estate import vm_row

pytestmark = pytest.mark.django_db

MIB = 1024**2
ASK = "Ask an admin to raise the quota or free capacity."


def _refused(field: str, call) -> str:
    before = Request.objects.count()
    with pytest.raises(ValidationError) as caught:
        call()
    assert field in caught.value.message_dict, caught.value.message_dict
    assert Request.objects.count() == before
    return " ".join(caught.value.message_dict[field])


def _owned_by(scene, team, **fields):
    vm = vm_row(
        scene.estate["cluster"],
        scene.node2,
        fields.pop("vmid"),
        now=timezone.now(),
        maxcpu=8,
        maxmem=8 * GIB,
        maxdisk=50 * GIB,
        **fields,
    )
    vm.save()
    ownership_assign(actor=scene.admin, vm=vm, owner=scene.alice, team=team, reason="test")
    return vm


def test_owned_use_counts_live_non_template_guests_of_the_team(sized):
    scene = sized
    # Only the guests Ops owns that run count: not a template, not a gone guest, not Dev's.
    _owned_by(scene, scene.ops, vmid=900, template=True)
    gone = _owned_by(scene, scene.ops, vmid=901)
    gone.gone_since = timezone.now()
    gone.save(update_fields=["gone_since"])
    _owned_by(scene, scene.dev, vmid=902)
    # A guest whose disks were never parsed counts its boot disk (maxdisk).
    _owned_by(scene, scene.ops, vmid=903)

    usage = team_usage(scene.ops.pk)

    assert usage.owned == Size(2, 4 + 8, 4 * GIB + 8 * GIB, 20 * GIB + 50 * GIB)
    assert usage.reserved == Size()
    assert team_usage(scene.dev.pk).owned == Size(1, 8, 8 * GIB, 50 * GIB)


def test_open_requests_reserve_until_their_guest_is_owned(sized):
    scene = sized
    pending = submit(scene, "provision", provision(scene))
    assert team_usage(scene.ops.pk).reserved == Size(1, 2, 2048 * MIB, 10 * GIB)

    # Executing and not yet owned: still reserved; once the own step is done, the guest
    # itself counts (through the inventory), not the request.
    params = provision(scene, cores=3)
    params.pop("team")
    running = approved_request(
        kind="provision",
        requester=scene.alice,
        cluster=scene.estate["cluster"],
        team=scene.ops,
        **params,
    )
    execution = execution_begin(running)
    assert team_usage(scene.ops.pk).reserved.cores == 5
    execution.steps.filter(name="own").update(state=StepState.DONE)
    assert team_usage(scene.ops.pk).reserved.cores == 2

    request_cancel(actor=scene.alice, request=pending)
    assert team_usage(scene.ops.pk).reserved == Size()
    assert team_usage(scene.ops.pk).owned.cores == 4


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_vms": 1}, "Team Ops would use 2 of 1 VMs (this request: 1)."),
        ({"max_cores": 5}, "Team Ops would use 6 of 5 vCPU cores (this request: 2)."),
        (
            {"max_memory_mib": 6000},
            "Team Ops would use 6144 of 6000 MiB of memory (this request: 2048).",
        ),
        ({"max_disk_gib": 29}, "Team Ops would use 30 of 29 GiB of disk (this request: 10)."),
    ],
)
def test_each_limit_refuses_a_provision_that_would_go_over(sized, limits, message):
    limit(sized, sized.ops, **limits)
    refusal = _refused("team", lambda: submit(sized, "provision", provision(sized)))
    assert refusal == f"{message} {ASK}"


def test_a_request_that_reaches_every_limit_exactly_is_accepted(sized):
    limit(sized, sized.ops, max_vms=2, max_cores=6, max_memory_mib=6144, max_disk_gib=30)
    assert submit(sized, "provision", provision(sized)).pk is not None


def test_two_requests_cannot_both_squeeze_under_the_limit(sized):
    limit(sized, sized.ops, max_cores=7)
    submit(sized, "provision", provision(sized))
    refusal = _refused("team", lambda: submit(sized, "provision", provision(sized)))
    assert refusal.startswith("Team Ops would use 8 of 7 vCPU cores (this request: 2).")


def test_a_changed_request_is_counted_once(sized):
    limit(sized, sized.ops, max_cores=7)
    request = submit(sized, "provision", provision(sized))

    grown = request_update(
        actor=sized.alice, request=request, parameters={**request.parameters, "cores": 3}
    )
    assert grown.parameters["cores"] == 3

    with pytest.raises(ValidationError) as caught:
        request_update(
            actor=sized.alice, request=request, parameters={**request.parameters, "cores": 4}
        )
    assert "would use 8 of 7 vCPU cores (this request: 4)" in str(caught.value)
    request.refresh_from_db()
    assert (request.parameters["cores"], request.revision) == (3, 2)


def test_a_provision_from_a_template_counts_the_template_disks(sized):
    scene = sized
    template = _owned_by(scene, scene.dev, vmid=904, template=True)
    limit(scene, scene.ops, max_disk_gib=60)
    params = provision(scene, source="clone", template=template.pk, disk_gib=1)
    refusal = _refused("team", lambda: submit(scene, "provision", params))
    assert refusal.startswith("Team Ops would use 70 of 60 GiB of disk (this request: 50).")


def test_a_clone_counts_the_size_of_its_source(sized):
    limit(sized, sized.ops, max_cores=6)
    refusal = _refused(
        "vm",
        lambda: submit(
            sized, "clone", {"name": "web-copy", "target_node": "node1", "full": True}, vm=sized.web
        ),
    )
    assert refusal.startswith("Team Ops would use 8 of 6 vCPU cores (this request: 4).")


def test_an_import_counts_one_vm_and_the_import_size(sized):
    limit(sized, sized.ops, max_vms=1)
    params = {
        "source_volume": "local-lvm:import/router.qcow2",
        "name": "router",
        "node": "node1",
        "storage": "local-lvm",
        "team": sized.ops.pk,
        "classification": "internal",
    }
    refusal = _refused("team", lambda: submit(sized, "import", params))
    assert refusal.startswith("Team Ops would use 2 of 1 VMs (this request: 1).")
    limit(sized, sized.ops, max_vms=None, max_memory_mib=5000)
    refusal = _refused("team", lambda: submit(sized, "import", params))
    assert "would use 6144 of 5000 MiB of memory (this request: 2048)" in refusal


def test_a_transfer_respects_the_receiving_teams_quota(sized):
    limit(sized, sized.dev, max_vms=0)
    # Ops is already over its (lowered) quota; a transfer within Ops adds nothing to it.
    limit(sized, sized.ops, max_vms=0)
    to_dev = {"owner": sized.carol.pk, "team": sized.dev.pk}
    refusal = _refused("team", lambda: submit(sized, "ownership_transfer", to_dev, vm=sized.web))
    assert refusal.startswith("Team Dev would use 1 of 0 VMs (this request: 1).")
    within = {"owner": sized.manager.pk, "team": sized.ops.pk}
    assert submit(sized, "ownership_transfer", within, vm=sized.web).pk is not None


def test_without_a_quota_or_a_team_nothing_is_refused(sized):
    assert submit(sized, "provision", provision(sized, cores=64)).pk is not None
    limit(sized, sized.ops, max_vms=0)
    assert submit(sized, "provision", {**provision(sized), "team": None}).pk is not None


def test_quota_changes_are_admin_only_checked_and_audited(sized):
    with pytest.raises(PermissionDenied):
        quota_set(actor=sized.alice, team=sized.ops, limits={"max_vms": 10})
    with pytest.raises(ValidationError) as caught:
        quota_set(actor=sized.admin, team=sized.ops, limits={"max_vms": -1})
    assert caught.value.message_dict == {
        "max_vms": ["Give a whole number of 0 or more, or leave it empty."]
    }

    quota_set(actor=sized.admin, team=sized.ops, limits={"max_vms": 10, "max_cores": 32})
    quota_set(actor=sized.admin, team=sized.ops, limits={"max_cores": 16})
    quota_set(actor=sized.admin, team=sized.ops, limits={"max_cores": 16})  # no change

    events = list(AuditEvent.objects.filter(action="approvals.quota.set").order_by("sequence"))
    assert len(events) == 2
    assert events[0].before["max_vms"] is None
    assert (events[0].after["max_vms"], events[0].after["max_cores"]) == (10, 32)
    assert (events[1].before["max_cores"], events[1].after["max_cores"]) == (32, 16)
    assert events[1].after["max_vms"] == 10
    assert events[1].actor == sized.admin


def test_the_transaction_storing_a_request_checks_again(sized, monkeypatch):
    # As if another submission for Ops committed after this one's validator had run: the
    # check inside the storing transaction (quota row locked) still refuses it.
    limit(sized, sized.ops, max_cores=7)
    submit(sized, "provision", provision(sized))
    monkeypatch.setattr("governance.approvals.services.prechecks.quota_check", lambda **_: None)
    refusal = _refused("team", lambda: submit(sized, "provision", provision(sized)))
    assert refusal.startswith("Team Ops would use 8 of 7 vCPU cores (this request: 2).")


def test_a_pending_transfer_reserves_for_the_receiving_team_only(sized):
    submit(
        sized,
        "ownership_transfer",
        {"owner": sized.carol.pk, "team": sized.dev.pk},
        vm=sized.web,
    )
    assert team_usage(sized.dev.pk).reserved == Size(1, 4, 4 * GIB, 20 * GIB)
    assert team_usage(sized.ops.pk).reserved == Size()
    # A team id a caller stored as text is found as well.
    Request.objects.update(parameters={"owner": sized.carol.pk, "team": str(sized.dev.pk)})
    assert team_usage(sized.dev.pk).reserved.vms == 1


def test_templates_count_against_no_quota(sized):
    limit(sized, sized.ops, max_vms=1)
    limit(sized, sized.dev, max_vms=0)
    made_template = {"name": "web-gold", "target_node": "node1", "full": True, "template": True}
    assert submit(sized, "clone", made_template, vm=sized.web).pk is not None
    template = _owned_by(sized, sized.ops, vmid=905, template=True)
    to_dev = {"owner": sized.carol.pk, "team": sized.dev.pk}
    assert submit(sized, "ownership_transfer", to_dev, vm=template).pk is not None
    refusal = _refused(
        "vm", lambda: submit(sized, "clone", {**made_template, "template": False}, vm=sized.web)
    )
    assert refusal.startswith("Team Ops would use 2 of 1 VMs (this request: 1).")
