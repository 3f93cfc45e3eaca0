"""Admins cancel waiting and running executions against pvesim: a cancel stops between
steps, an abortable step's Proxmox task is stopped through the task API, a task of a
step that is not abortable is left to finish, and no step ever runs after the cancel."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from governance.approvals.models import ExecutionState, RequestState, StepState
from governance.approvals.services.executions import execution_cancel
from governance.audit.models import AuditEvent
from tests.factories import UserFactory
from tests.governance.approvals.execution.helpers import (
    Driver,
    approved_request,
    execution_begin,
    left_by_dead_worker,
    migrations,
    movable,
    steps_by_name,
)
from tests.policy.enforce.helpers import plain_qemu

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(roles=["admin"])


def _migration(synced):
    vm, target = movable(synced)
    request = approved_request(
        kind="migrate", requester=UserFactory(), vm=vm, target_node=target, online=True
    )
    return vm, target, request, execution_begin(request)


def _cancel_events(request) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action__startswith="approvals.", target_id=str(request.pk)
        ).order_by("sequence")
    )


def test_cancelling_a_running_migration_stops_its_task_and_no_later_step_runs(synced, admin):
    vm, _target, request, execution = _migration(synced)
    source = vm.node.name
    driver = Driver([synced.sim])
    driver.run_until(execution, step="migrate", state=StepState.WAITING_TASK)
    upid = steps_by_name(execution)["migrate"].upid

    execution_cancel(actor=admin, execution=execution, reason="the change window closed")
    execution.refresh_from_db()
    assert execution.state == ExecutionState.RUNNING  # its task is still in flight
    execution = driver.run(execution)

    assert execution.state == ExecutionState.CANCELLED
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    (task,) = migrations(synced, vm.vmid)
    assert task.upid == upid
    assert "interrupt" in task.status
    assert synced.sim.cluster.estate.guests[vm.vmid].node == source
    steps = steps_by_name(execution)
    assert steps["migrate"].state == StepState.FAILED
    assert "cancelled" in steps["migrate"].error
    assert steps["sync"].state == StepState.PENDING
    assert steps["sync"].attempts == 0
    cancelled = request.events.filter(data__to="cancelled").get()
    assert (cancelled.actor, cancelled.message) == (admin, "the change window closed")
    actions = {e.action: e for e in _cancel_events(request)}
    assert actions["approvals.execution.cancel_requested"].actor == admin
    assert actions["approvals.execution.cancelled"].after["reason"] == "the change window closed"
    assert actions["approvals.request.cancelled"].actor == admin
    # Nothing more happens, however often the engine is asked.
    assert driver.step(execution) is None
    assert len(migrations(synced, vm.vmid)) == 1


def test_a_cancel_between_steps_ends_at_once_and_starts_no_task(synced, admin):
    vm, _target, request, execution = _migration(synced)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="precheck", state=StepState.DONE)

    execution_cancel(actor=admin, execution=execution, reason="not today")

    execution.refresh_from_db()
    assert execution.state == ExecutionState.CANCELLED
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    assert driver.step(execution) is None
    assert steps_by_name(execution)["migrate"].state == StepState.PENDING
    assert not migrations(synced, vm.vmid)


def test_a_cancel_while_the_worker_is_starting_the_task_stops_it_once_recorded(synced, admin):
    """The cancel arrives while the worker is inside the Proxmox call: the worker's UPID is
    still recorded (nothing is lost) and the next poll stops that task."""
    from governance.approvals.execution.proxmox import default_gateway
    from governance.approvals.execution.runner import execution_advance

    vm, _target, _request, execution = _migration(synced)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="precheck", state=StepState.DONE)

    class CancelMidCall:
        def __init__(self, gateway):
            self._gateway = gateway

        def __getattr__(self, name):
            return getattr(self._gateway, name)

        def guest_migrate(self, **kwargs):
            execution_cancel(actor=admin, execution=execution, reason="wrong node")
            return self._gateway.guest_migrate(**kwargs)

    execution_advance(
        execution_id=execution.pk,
        now=driver.now,
        gateway_factory=lambda cluster_id: CancelMidCall(default_gateway(cluster_id)),
    )
    step = steps_by_name(execution)["migrate"]
    assert step.state == StepState.WAITING_TASK
    assert step.upid
    execution = driver.run(execution)

    assert execution.state == ExecutionState.CANCELLED
    assert [t.upid for t in migrations(synced, vm.vmid)] == [step.upid]
    assert "interrupt" in migrations(synced, vm.vmid)[0].status
    assert steps_by_name(execution)["sync"].state == StepState.PENDING


def test_a_task_of_a_step_that_is_not_abortable_is_left_to_finish(synced, admin):
    guest = synced.guest(lambda g: plain_qemu(g) and not g.running and not g.lock)
    response = synced.sim.api(
        "POST", f"/nodes/{guest.node}/qemu/{guest.vmid}/snapshot", data={"snapname": "s1"}
    )
    assert response.status_code == 200, response.text
    synced.sim.advance(120)
    synced.sync()
    vm = synced.vm(guest.vmid)
    request = approved_request(
        kind="snapshot_delete", requester=UserFactory(), vm=vm, snapshot="s1"
    )
    execution = execution_begin(request)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="delete", state=StepState.WAITING_TASK)

    execution_cancel(actor=admin, execution=execution, reason="keep it after all")
    execution = driver.run(execution)

    assert execution.state == ExecutionState.CANCELLED
    steps = steps_by_name(execution)
    assert steps["delete"].state == StepState.DONE  # the task ran to its end, recorded
    assert "s1" not in synced.sim.cluster.estate.guests[vm.vmid].snapshots
    assert steps["ledger"].state == StepState.PENDING  # never run after the cancel


def test_only_admins_cancel_and_only_what_has_not_ended(synced, admin):
    _vm, _target, request, execution = _migration(synced)
    with pytest.raises(PermissionDenied):
        execution_cancel(actor=request.requester, execution=execution, reason="mine")
    driver = Driver([synced.sim])
    driver.run_until(execution, step="migrate", state=StepState.WAITING_TASK)
    execution_cancel(actor=admin, execution=execution, reason="first")
    with pytest.raises(ValidationError, match="already asked for"):
        execution_cancel(actor=admin, execution=execution, reason="second")
    driver.run(execution)
    with pytest.raises(ValidationError, match="already ended"):
        execution_cancel(actor=admin, execution=execution, reason="third")


def test_the_request_page_offers_admins_a_confirmed_cancel_of_a_running_execution(
    client, synced, admin
):
    _vm, _target, request, execution = _migration(synced)
    Driver([synced.sim]).run_until(execution, step="migrate", state=StepState.WAITING_TASK)
    page_url = reverse("approvals:request", kwargs={"pk": request.pk})
    cancel_url = reverse("approvals:cancel", kwargs={"pk": request.pk})

    client.force_login(request.requester)
    page = client.get(page_url).content.decode()
    assert "Cancel execution" not in page
    client.post(cancel_url, {"reason": "mine"})
    execution.refresh_from_db()
    assert execution.cancel_requested_at is None

    client.force_login(admin)
    page = client.get(page_url).content.decode()
    assert 'data-testid="cancel-execution"' in page
    assert "will be stopped" in page  # the migration's task is abortable
    assert "Yes, cancel the execution" in page
    response = client.post(cancel_url, {"reason": "maintenance postponed"}, follow=True)
    assert "No further step will run" in response.content.decode()
    execution.refresh_from_db()
    assert execution.cancel_requested_by == admin
    assert execution.cancel_reason == "maintenance postponed"
    page = client.get(page_url).content.decode()
    assert 'data-testid="cancel-execution"' not in page
    assert "Cancelling at the request of" in page


def test_the_admin_who_cancels_sees_the_execution_end_live(
    synced, admin, monkeypatch, django_capture_on_commit_callbacks
):
    """The canceller is neither requester nor approver, yet follows the request live."""
    pushed: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(
        "governance.approvals.execution.live.publish_to_user",
        lambda user_id, event, payload: pushed.append((user_id, event, payload)),
    )
    _vm, _target, request, execution = _migration(synced)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="migrate", state=StepState.WAITING_TASK)
    execution_cancel(actor=admin, execution=execution, reason="postponed")

    with django_capture_on_commit_callbacks(execute=True):
        driver.run(execution)

    states = {(user, p["state"]) for user, event, p in pushed if event == "approvals.request"}
    assert (admin.pk, "cancelled") in states
    assert (request.requester_id, "cancelled") in states


def test_a_cancel_after_a_worker_died_mid_call_finds_and_stops_its_task(synced, admin):
    """The worker died after Proxmox started the migration but before recording it: the
    cancel does not leave that task unaccounted for; the engine adopts it, stops it and
    never starts the step again."""
    vm, target, _request, execution = _migration(synced)
    driver = Driver([synced.sim])
    driver.run_until(execution, step="precheck", state=StepState.DONE)
    left_by_dead_worker(execution, step="migrate", now=driver.now)
    upid = synced.gateway.guest_migrate(
        node=vm.node.name, kind="qemu", vmid=vm.vmid, target=target, online=True
    )

    execution_cancel(actor=admin, execution=execution, reason="abandon")
    execution = driver.run(execution)

    assert execution.state == ExecutionState.CANCELLED
    assert steps_by_name(execution)["migrate"].upid == upid
    (task,) = migrations(synced, vm.vmid)
    assert "interrupt" in task.status
    assert steps_by_name(execution)["sync"].state == StepState.PENDING
