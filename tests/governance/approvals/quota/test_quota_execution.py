"""Just before execution the quota is checked again (against pvesim): a quota lowered
after approval fails the first step with the refusal and nothing happens in Proxmox; an
admin who raises it retries; the request approved first runs first; a transfer (one
atomic step) is stopped the same way."""

from __future__ import annotations

import pytest

from governance.accounts.roles import Role
from governance.approvals.models import ExecutionState, Request, RequestState, StepState
from governance.approvals.quota_usage import Size, team_usage
from governance.approvals.services.executions import execution_retry
from governance.approvals.services.quota import quota_set
from governance.ownership.models import Ownership
from tests.factories import TeamFactory, UserFactory
from tests.governance.approvals.execution.helpers import (
    Driver,
    approved_provision,
    approved_request,
    execution_begin,
    steps_by_name,
)

pytestmark = pytest.mark.django_db

ASK = "Ask an admin to raise the quota or free capacity."


@pytest.fixture
def people():
    return (
        UserFactory(username="alice", roles=[Role.END_USER]),
        UserFactory(username="admin", roles=[Role.ADMIN]),
    )


def _provision(synced, requester, team, name, cores=4):
    return approved_provision(synced, requester, name=name, size=(cores, 1024, 4), team=team)


def test_a_quota_lowered_after_approval_stops_the_execution(synced, people):
    alice, admin = people
    team = TeamFactory(name="Payments")
    request = _provision(synced, alice, team, "db-9")
    quota_set(actor=admin, team=team, limits={"max_cores": 2})
    guests = set(synced.sim.cluster.estate.guests)

    execution = Driver([synced.sim]).run(execution_begin(request))

    assert execution.state == ExecutionState.FAILED
    reserve = steps_by_name(execution)["reserve"]
    assert reserve.state == StepState.FAILED
    assert reserve.error == (
        f"Quota exceeded: Team Payments would use 4 of 2 vCPU cores (this request: 4). {ASK}"
    )
    request.refresh_from_db()
    assert request.state == RequestState.FAILED
    assert set(synced.sim.cluster.estate.guests) == guests
    assert "vmid" not in reserve.result

    quota_set(actor=admin, team=team, limits={"max_cores": 4})
    execution_retry(actor=admin, execution=execution)
    execution = Driver([synced.sim]).run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    usage = team_usage(team.pk)
    assert (usage.owned.vms, usage.owned.cores, usage.reserved) == (1, 4, Size())


def test_the_request_that_runs_first_wins_and_a_pending_one_does_not_block_it(synced, people):
    alice, admin = people
    team = TeamFactory(name="Payments")
    quota_set(actor=admin, team=team, limits={"max_vms": 1})
    # Still waiting for approval: reserved at submission, but it does not hold back a
    # request that was approved and runs now; it is checked again when it runs.
    waiting = _provision(synced, alice, team, "web-3")
    Request.objects.filter(pk=waiting.pk).update(state=RequestState.PENDING)
    first = _provision(synced, alice, team, "web-1", cores=1)
    second = _provision(synced, alice, team, "web-2", cores=1)

    done = Driver([synced.sim]).run(execution_begin(first))
    assert done.state == ExecutionState.SUCCEEDED, done.error
    refused = Driver([synced.sim]).run(execution_begin(second))

    assert refused.state == ExecutionState.FAILED
    assert refused.error == (
        f"Quota exceeded: Team Payments would use 2 of 1 VMs (this request: 1). {ASK}"
    )


def test_a_transfer_stops_when_the_receiving_team_is_full_at_execution(sized):
    # The transfer is one atomic step, run in the claiming transaction: the gate there too.
    request = approved_request(
        kind="ownership_transfer",
        requester=sized.alice,
        vm=sized.web,
        team=sized.ops,
        owner=sized.carol.pk,
    )
    request.parameters["team"] = sized.dev.pk
    request.save(update_fields=["parameters"])
    quota_set(actor=sized.admin, team=sized.dev, limits={"max_vms": 0})

    execution = Driver([]).run(execution_begin(request))

    assert execution.state == ExecutionState.FAILED
    assert (
        execution.error == f"Quota exceeded: Team Dev would use 1 of 0 VMs (this request: 1). {ASK}"
    )
    assert Ownership.objects.get(vm=sized.web, until__isnull=True).team == sized.ops
