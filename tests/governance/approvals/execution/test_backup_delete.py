"""backup_delete end to end against pvesim: an admin's backup of a governed VM on USB
storage opens a no-removable-media violation; its owner opens "Request deletion" on the
violation page and submits the prefilled form; the team's manager (not the owner)
approves; the execution deletes the volume in Proxmox and closes the ledger row; the
next sync and reconcile resolve the violation. Bad input: a volid the ledger does not
hold, a VM the requester cannot see, a double submit, a second request for the same
backup; and a backup already gone or protected when the execution runs."""

from __future__ import annotations

import re
import uuid
from html import unescape
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.test import Client
from rest_framework.test import APIClient

from governance.approvals.models import Execution, ExecutionState, Request, RequestState
from governance.approvals.services.requests import request_submit
from governance.audit.models import AuditEvent
from governance.ownership.services import ownership_assign
from inventory.models import Copy, CopyKind, VirtualMachine
from policy.models import Remediation
from tests import shared_fixtures
from tests.governance.approvals.execution.helpers import Driver, left_by_dead_worker, steps_by_name
from tests.governance.ownership import conftest as ownership_fixtures
from tests.policy.enforce import e2e
from tests.policy.enforce.e2e import cycle, open_violation, policy_on, vzdump
from tests.policy.enforce.helpers import plain_qemu, storages_approve

pytestmark = pytest.mark.django_db(transaction=True)

USB_STORAGE = "usb-backup"  # pvesim's USB disk on alpha1
API = "/api/approvals/requests/"

# Fixtures of the ownership and policy suites: people in teams, Proxmox writes counted.
people = ownership_fixtures.people
recorder = e2e.recorder
# Execution messages are recorded instead of sent; ``Driver`` runs the executions.
queued = shared_fixtures.queued


@pytest.fixture
def synced(synced):
    """The shared cluster with every storage approved but the USB disk."""
    storages_approve(synced, removable=(USB_STORAGE,))
    return synced


@pytest.fixture
def backed_up(synced, people, recorder, queued):
    """alice's VM (team ops) with a backup on USB storage, seen as a violation."""
    guest = synced.guest(lambda g: plain_qemu(g) and g.node == "alpha1" and not g.lock)
    vm = synced.vm(guest.vmid)
    ownership_assign(actor=people.admin, vm=vm, owner=people.alice, team=people.ops, reason="t")
    policy_on("no_removable_media", [vm], check_disks=False, check_backup_jobs=False)
    volid = vzdump(synced, guest, USB_STORAGE)
    cycle(synced)
    return guest, vm, volid


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form_post(client: Client, vm: VirtualMachine, **fields) -> object:
    data = {
        "vm": vm.pk,
        "justification": "the backup sits on a USB disk",
        "idempotency_key": uuid.uuid4(),
        **fields,
    }
    return client.post("/approvals/new/backup_delete/", data)


def _submit(user, vm: VirtualMachine, volid: str) -> Request:
    """A backup_delete request submitted through the service (as the API does)."""
    return request_submit(
        requester=user,
        kind="backup_delete",
        vm=vm,
        parameters={"volid": volid},
        justification="off the USB disk",
        idempotency_key=uuid.uuid4().hex,
    )


def _volumes(synced, node: str = "alpha1") -> set[str]:
    return {v.volid for v in synced.gateway.storage_content(node=node, storage=USB_STORAGE)}


def test_violation_link_request_approval_execution_and_resolution(synced, backed_up, people):
    _, vm, volid = backed_up
    violation = open_violation(vm, f"backup:{volid}")
    [reported] = Remediation.objects.filter(violation=violation)
    assert (reported.action, reported.state) == ("deletion_request", "not_possible")
    alice = _client(people.alice)

    page = alice.get(f"/policy/violations/{violation.pk}/")
    assert page.status_code == 200
    link = unescape(re.search(r'href="([^"]+)">Request deletion<', page.content.decode())[1])
    form_page = alice.get(link)
    assert form_page.status_code == 200
    body = form_page.content.decode()
    assert re.search(rf'<option value="{re.escape(volid)}"[^>]*selected', body)
    assert f'name="violation" value="{violation.pk}"' in body
    key = re.search(r'name="idempotency_key" value="([^"]+)"', body)[1]

    data = {"vm": vm.pk, "volid": volid, "violation": violation.pk, "idempotency_key": key}
    data["justification"] = "the backup sits on a USB disk"
    response = alice.post(link.split("?")[0], data)
    assert response.status_code == 302, response.content.decode()[:2000]
    request = Request.objects.get(kind="backup_delete")
    assert response["Location"] == f"/approvals/{request.pk}/"
    assert request.parameters == {
        "volid": volid,
        "storage": USB_STORAGE,
        "node": "alpha1",
        "violation": violation.pk,
    }
    # A double click posts the same key again: the same request, no second one.
    again = alice.post(link.split("?")[0], data)
    assert again["Location"] == f"/approvals/{request.pk}/"
    assert Request.objects.filter(kind="backup_delete").count() == 1
    reported.refresh_from_db()
    assert reported.params["request_id"] == request.pk
    assert f"deletion requested by alice: request #{request.pk}" in reported.log
    page = alice.get(f"/policy/violations/{violation.pk}/").content.decode()
    assert f"request #{request.pk}" in page
    assert ">Request deletion<" not in page  # one standing request per backup

    # Nobody approves their own request; the team's manager does.
    alice.post(f"/approvals/{request.pk}/approve/", {"revision": 1})
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    _client(people.manager).post(f"/approvals/{request.pk}/approve/", {"revision": 1})
    request.refresh_from_db()
    assert request.state == RequestState.EXECUTING
    assert volid in _volumes(synced)  # nothing deleted before the execution runs

    execution = Driver([synced.sim]).run(Execution.objects.get(request=request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    steps = steps_by_name(execution)
    assert steps["delete"].upid.split(":")[5] == "imgdel"
    assert volid not in _volumes(synced)
    backup = Copy.objects.get(vm=vm, kind=CopyKind.BACKUP, name=volid)
    assert backup.deleted_at is not None
    assert AuditEvent.objects.filter(action="approvals.backup_deleted").count() == 1
    request.refresh_from_db()
    assert request.state == RequestState.SUCCEEDED

    cycle(synced)
    violation.refresh_from_db()
    assert violation.resolved_at is not None
    assert not Copy.objects.filter(vm=vm, name=volid, deleted_at__isnull=True).exists()
    assert [t for t in synced.gateway.tasks() if t.type == "imgdel"] == [
        t for t in synced.gateway.tasks() if t.upid == steps["delete"].upid
    ]  # deleted once


def test_bad_input_is_refused_with_what_to_fix(synced, backed_up, people):
    _, vm, volid = backed_up
    violation = open_violation(vm, f"backup:{volid}")
    alice = _client(people.alice)

    unknown = f"{USB_STORAGE}:backup/vzdump-qemu-{vm.vmid}-2020_01_01-00_00_00.vma.zst"
    response = _form_post(alice, vm, volid=unknown)
    assert response.status_code == 400
    assert "not an existing backup of this VM in the copy ledger" in response.content.decode()
    with pytest.raises(ValidationError, match="copy ledger holds no existing backup"):
        _submit(people.alice, vm, unknown)
    # carol (another team) cannot see the VM: 404 on the form, the post and the service.
    carol = _client(people.carol)
    assert carol.get(f"/approvals/new/backup_delete/?vm={vm.pk}").status_code == 404
    assert carol.get(f"/policy/violations/{violation.pk}/").status_code == 404
    assert _form_post(carol, vm, volid=volid).status_code == 404
    with pytest.raises(Http404):
        _submit(people.carol, vm, volid)
    # A violation about another finding is not this backup's.
    response = _form_post(alice, vm, volid=volid, violation=violation.pk + 1000)
    assert response.status_code == 400
    assert "is not about backup" in response.content.decode()
    assert not Request.objects.exists()

    # A second request for the same backup, with a new key, names the first.
    assert _form_post(alice, vm, volid=volid).status_code == 302
    first = Request.objects.get()
    response = _form_post(people_client := _client(people.security), vm, volid=volid)
    assert response.status_code == 400
    assert f"Request #{first.pk} already asks to delete this backup" in response.content.decode()
    assert people_client.get(f"/policy/violations/{violation.pk}/").status_code == 200
    assert Request.objects.count() == 1
    assert not Remediation.objects.filter(params__has_key="request_id").exists()


def _approved(cast, vm, volid) -> Request:
    request = _submit(cast.alice, vm, volid)
    _client(cast.manager).post(f"/approvals/{request.pk}/approve/", {"revision": 1})
    return request


def test_a_backup_already_gone_closes_the_ledger_without_harm(synced, backed_up, people):
    _, vm, volid = backed_up
    request = _approved(people, vm, volid)
    synced.sim.api("DELETE", f"/nodes/alpha1/storage/{USB_STORAGE}/content/{quote(volid, safe='')}")
    synced.sim.advance(60)
    assert volid not in _volumes(synced)

    execution = Driver([synced.sim]).run(Execution.objects.get(request=request))

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    steps = steps_by_name(execution)
    assert steps["delete"].state == "skipped"
    assert "already gone" in steps["delete"].log
    assert Copy.objects.get(vm=vm, name=volid).deleted_at is not None


def test_a_protected_backup_fails_with_what_to_do_and_is_kept(synced, backed_up, people):
    _, vm, volid = backed_up
    request = _approved(people, vm, volid)
    response = synced.sim.api(
        "PUT",
        f"/nodes/alpha1/storage/{USB_STORAGE}/content/{quote(volid, safe='')}",
        data={"protected": 1},
    )
    assert response.status_code == 200, response.text

    execution = Driver([synced.sim]).run(Execution.objects.get(request=request))

    assert execution.state == ExecutionState.FAILED
    assert "protected in Proxmox" in execution.error
    assert volid in _volumes(synced)
    assert Copy.objects.get(vm=vm, name=volid).deleted_at is None
    request.refresh_from_db()
    assert request.state == RequestState.FAILED


def test_a_worker_killed_mid_delete_adopts_its_task_and_deletes_once(synced, backed_up, people):
    _, vm, volid = backed_up
    request = _approved(people, vm, volid)
    execution = Execution.objects.get(request=request)
    driver = Driver([synced.sim])
    left_by_dead_worker(execution, step="delete", now=driver.now)
    # What the dead worker had done before it could store the UPID.
    started = synced.gateway.storage_volume_delete(node="alpha1", storage=USB_STORAGE, volid=volid)

    execution = driver.run(execution)

    assert execution.state == ExecutionState.SUCCEEDED, execution.error
    delete = steps_by_name(execution)["delete"]
    assert delete.upid == started
    assert "adopted task" in delete.log
    assert [t.upid for t in synced.gateway.tasks() if t.type == "imgdel"] == [started]
    assert volid not in _volumes(synced)
    assert Copy.objects.get(vm=vm, name=volid).deleted_at is not None


def test_a_security_officer_submits_through_the_api(synced, backed_up, people):
    _, vm, volid = backed_up
    api = APIClient()
    api.force_authenticate(people.security)
    body = {
        "kind": "backup_delete",
        "vm": vm.pk,
        "justification": "USB backups of governed VMs go",
        "idempotency_key": str(uuid.uuid4()),
    }

    refused = api.post(API, {**body, "parameters": {"volid": "usb-backup:nope"}}, format="json")
    assert refused.status_code == 400
    assert "not an existing backup of this VM" in str(refused.json())
    created = api.post(API, {**body, "parameters": {"volid": volid}}, format="json")
    assert created.status_code == 201, created.json()
    request = Request.objects.get(pk=created.json()["id"])
    assert (request.requester, request.parameters["volid"]) == (people.security, volid)
    # The team manager decides; the security officer who asked cannot.
    assert [s.approver_rule for s in request.steps.all()] == ["team_manager"]
    assert request.team == people.ops
    carol = APIClient()
    carol.force_authenticate(people.carol)
    hidden = carol.post(
        API,
        {**body, "idempotency_key": str(uuid.uuid4()), "parameters": {"volid": volid}},
        format="json",
    )
    assert hidden.status_code == 404
