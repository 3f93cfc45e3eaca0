"""The three approval journeys of issue 7, in Chromium against daphne, a Celery worker and
pvesim (served from this process; the server and worker subprocesses reach it over
loopback):

- an end user requests a VM; once their manager approves it appears in Proxmox, owned by
  the requester;
- a manager approves a migration and watches it complete live, without reloading;
- an export needs both the manager and a security officer (a chain an admin builds in
  the chain editor), and the export artefact is deleted once its availability ends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from pvesim.clock import Clock
from pvesim.server import default_certificate
from pvesim.testing import RunningSim, SimFarm
from tests.browser.conftest import BROWSER_PASSWORD, BROWSER_USERS
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.browser

# Approve -> worker -> pvesim task -> poll -> ledgers; simulated time runs 20x faster
# so a Proxmox task of a few simulated seconds ends within a real second.
EXECUTION_TIMEOUT_MS = 90_000
SIM_SPEED = 20.0

# Runs in the browser stack's environment (one interpreter: each costs seconds to start):
# make the test's own users, one per role, register and sync its own simulated cluster
# under its unique name, classify its storages, make its team of its end user and
# manager and give the end user one running guest.
_SEED = """
import django, json, sys
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from governance.accounts.services import team_create, team_member_add
from governance.ownership.services import ownership_assign
from inventory.models import Cluster, Storage, VirtualMachine
from inventory.sync.service import cluster_sync
spec = json.loads(sys.argv[1])
User = get_user_model()
for role, name in spec["people"].items():
    user = User.objects.create_user(name, password=spec["password"], first_name=name.title())
    user.groups.add(Group.objects.get_or_create(name=role)[0])
admin = User.objects.get(username=spec["admin"])
end_user = User.objects.get(username=spec["end_user"])
cluster = Cluster.objects.create(
    name=spec["cluster"], api_url=spec["url"], token_id=spec["token_id"],
    token_secret=spec["token_secret"], fingerprint=spec["fingerprint"],
)
run = cluster_sync(cluster_id=cluster.pk, full=True)
assert run is not None and run.status in ("ok", "partial"), (run and run.error)
Storage.objects.filter(cluster=cluster, name="ceph-rbd").update(storage_class="approved")
Storage.objects.filter(cluster=cluster, name="nfs-iso").update(storage_class="external")
team = team_create(actor=admin, name=spec["team"])
team_member_add(actor=admin, team=team, user=end_user)
manager = User.objects.get(username=spec["manager"])
team_member_add(actor=admin, team=team, user=manager, is_manager=True)
guest = VirtualMachine.objects.get(cluster=cluster, vmid=spec["guest"], gone_since__isnull=True)
ownership_assign(actor=admin, vm=guest, owner=end_user, team=team, reason="the team's guest")
print(guest.pk)
"""

# Runs in the browser stack's environment: the export expiry run, as the beat would
# start it once the export's availability has ended (``now`` moved past it), for each
# number of days from now in argv in turn; prints {days: [expired copies]}.
_EXPIRE = """
import django, json, sys
django.setup()
from datetime import timedelta
from django.utils import timezone
from governance.approvals.execution.kinds.export import export_expire, exports_due
from inventory.proxmox import ProxmoxGateway
from inventory.services.clusters import cluster_endpoint
expired = {days: [] for days in sys.argv[1:]}
for days in sys.argv[1:]:
    for copy, step in exports_due(now=timezone.now() + timedelta(days=float(days))):
        gateway = ProxmoxGateway(cluster_endpoint(copy.cluster))
        assert export_expire(copy=copy, step=step, gateway=gateway), copy
        expired[days].append(copy.name)
print(json.dumps(expired))
"""


def _movable_guest(sim: RunningSim) -> tuple[int, str]:
    """A running guest on shared storage, outside HA, that Proxmox lets move now, and
    the node it may go to (read from the migration precondition, as Steward does)."""
    estate = sim.cluster.estate
    for guest in sorted(estate.guests.values(), key=lambda g: g.vmid):
        if (
            guest.kind != "qemu"
            or guest.config.get("template")
            or guest.status != "running"
            or guest.lock
            or estate.ha_resource(guest) is not None
            or not guest.config.get("scsi0", "").startswith("ceph-rbd:")
        ):
            continue
        check = sim.api("GET", f"/nodes/{guest.node}/qemu/{guest.vmid}/migrate").json()["data"]
        allowed = check.get("allowed_nodes") or []
        if allowed and not check.get("local_resources"):
            return guest.vmid, sorted(allowed)[0]
    raise AssertionError("the simulated estate has no movable guest")


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    """The test's own simulated cluster and clock (a test may stop its clock)."""
    farm = SimFarm(certificate=default_certificate(), clock=Clock(speed=SIM_SPEED))
    try:
        # Steward acts with an admin token: executions write to Proxmox.
        yield farm.start(identity="root")
    finally:
        farm.stop()


@pytest.fixture
def estate(browser_stack, sim, unique_name) -> dict:
    """The test's own data: its simulated cluster registered under a unique name, a fresh
    end user and manager in a team of their own, one running guest the end user owns,
    and a fresh security officer and admin (``fresh_admin``) owning nothing."""
    vmid, target = _movable_guest(sim)
    roles = ("end_user", "manager", "security_officer", "admin")
    people = {role: unique_name(BROWSER_USERS[role]) for role in roles}
    spec = {
        **{role: people[role] for role in roles[:3]},
        "fresh_admin": people["admin"],
        "people": people,
        "password": BROWSER_PASSWORD,
        "admin": BROWSER_USERS["admin"],
        "cluster": unique_name("pve-appr"),
        "team": unique_name("web-team"),
        "url": sim.url,
        "token_id": sim.token_id,
        "token_secret": sim.token_secret,
        "fingerprint": fingerprint_of_file(sim.cert_file),
        "guest": vmid,
    }
    out = browser_stack.python(_SEED, json.dumps(spec))
    return {
        **spec,
        "vm_pk": int(out.strip().splitlines()[-1]),
        "vmid": vmid,
        "target": target,
        "sim": sim,
    }


def _second_context(chromium, daphne_server, sign_in, role, username=None):
    context = chromium.new_context(base_url=daphne_server, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    other = context.new_page()
    sign_in(other, role, username=username)
    return context, other


def _state(page):
    return page.get_by_test_id("request-state")


@pytest.mark.usefixtures("celery_worker_process")
def test_end_user_requests_a_vm_and_it_appears_in_proxmox_owned_by_them(
    chromium, daphne_server, page, sign_in, estate, unique_name
):
    sim: RunningSim = estate["sim"]
    node = sorted(sim.cluster.estate.nodes)[1]
    name = unique_name("shop")
    sign_in(page, "end_user", username=estate["end_user"])
    page.get_by_role("link", name="Requests").click()
    page.get_by_role("link", name="Request a new VM").click()
    form = page.get_by_test_id("request-form")
    chooser = page.get_by_text("Choose the cluster first")
    expect(chooser.or_(form)).to_be_visible()
    if chooser.is_visible():  # other tests' clusters take requests too
        page.get_by_role("link", name=estate["cluster"], exact=True).click()
    form.get_by_label("Node").select_option(label=node)
    form.get_by_label("Name").fill(name)
    form.get_by_label("Cores").fill("2")
    form.get_by_label("Memory (MiB)").fill("2048")
    form.get_by_label("Disk (GiB)").fill("8")
    form.get_by_label("Storage").select_option(label="ceph-rbd")
    form.get_by_label("Team").select_option(label=estate["team"])
    form.get_by_label("Justification").fill("the new shop front needs its own VM")
    form.get_by_role("button", name="Submit request").click()
    expect(page).to_have_url(re.compile(r"/approvals/\d+/$"))
    expect(_state(page)).to_contain_text("Waiting for approval")
    expect(page.get_by_role("heading", name="Approvals needed")).to_be_visible()
    request_url = page.url

    context, manager = _second_context(
        chromium, daphne_server, sign_in, "manager", estate["manager"]
    )
    try:
        manager.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Approvals", exact=True
        ).click()
        manager.get_by_role("link", name="Provision a VM").click()
        expect(manager).to_have_url(request_url)
        manager.get_by_label("Comment").fill("fine, within the team's quota")
        manager.get_by_role("button", name="Approve").click()
        expect(manager.get_by_text(re.compile(r"Approved request #\d+"))).to_be_visible()
    finally:
        context.close()

    # The requester's page follows the execution live.
    expect(_state(page)).to_contain_text("Succeeded", timeout=EXECUTION_TIMEOUT_MS)
    created = [g for g in sim.cluster.estate.guests.values() if g.config.get("name") == name]
    assert len(created) == 1
    assert created[0].node == node
    # Owned from birth: the requester's ownership list has it, with its owner and team.
    page.goto("/ownership/vms/")
    row = page.locator("table.table tbody tr", has=page.get_by_role("link", name=name))
    expect(row).to_contain_text(estate["team"])
    expect(row).to_contain_text(estate["end_user"])


def _migration_requested(page, sign_in, estate) -> str:
    """The end user asks to move their guest to the estate's target node; the request's
    URL."""
    sign_in(page, "end_user", username=estate["end_user"])
    page.goto(f"/inventory/vms/{estate['vm_pk']}/")
    page.get_by_role("link", name="Migrate a VM").click()
    form = page.get_by_test_id("request-form")
    form.get_by_label("Target node").select_option(label=f"{estate['target']} (online)")
    form.get_by_label("Justification").fill("drain the source node for its firmware update")
    form.get_by_role("button", name="Submit request").click()
    expect(_state(page)).to_contain_text("Waiting for approval")
    return page.url


@pytest.mark.usefixtures("celery_worker_process")
def test_manager_approves_a_migration_and_watches_it_complete_live(
    chromium, daphne_server, page, sign_in, estate
):
    sim: RunningSim = estate["sim"]
    target = estate["target"]
    request_url = _migration_requested(page, sign_in, estate)

    context, manager = _second_context(
        chromium, daphne_server, sign_in, "manager", estate["manager"]
    )
    try:
        manager.goto(request_url)
        expect(manager.locator("html")).to_have_attribute("data-live", "online")
        manager.get_by_role("button", name="Approve").click()
        # From here on the manager's page is never reloaded: each step and the end state
        # arrive over the websocket.
        steps = manager.get_by_test_id("execution-steps")
        expect(steps).to_be_visible(timeout=EXECUTION_TIMEOUT_MS)
        manager.evaluate("window.__notReloaded = true")
        expect(_state(manager)).to_contain_text("Succeeded", timeout=EXECUTION_TIMEOUT_MS)
        assert manager.evaluate("window.__notReloaded === true")
        expect(steps.locator("[data-state=done]").first).to_be_visible()
        expect(manager.get_by_test_id("timeline")).to_contain_text("Proxmox task")
    finally:
        context.close()
    assert sim.cluster.estate.guests[estate["vmid"]].node == target


@pytest.mark.usefixtures("celery_worker_process")
def test_an_admin_cancels_a_running_migration_after_confirming(
    chromium, daphne_server, page, sign_in, estate
):
    """The simulated clock stands still, so the migration task runs until stopped: the
    admin confirms the cancel with a reason, Proxmox's task is stopped, the guest stays
    where it was and the request ends cancelled on the page, live."""
    sim: RunningSim = estate["sim"]
    source = sim.cluster.estate.guests[estate["vmid"]].node
    request_url = _migration_requested(page, sign_in, estate)
    sim.cluster.clock.set_speed(0)  # the test's own clock: no other test waits on it
    try:
        context, manager = _second_context(
            chromium, daphne_server, sign_in, "manager", estate["manager"]
        )
        try:
            manager.goto(request_url)
            manager.get_by_role("button", name="Approve").click()
            expect(manager.get_by_text(re.compile(r"Approved request #\d+"))).to_be_visible()
        finally:
            context.close()
        migrate = page.locator("[data-execution-step=migrate]")
        expect(migrate).to_have_attribute(
            "data-state", "waiting_task", timeout=EXECUTION_TIMEOUT_MS
        )
        # The requester may not cancel an execution.
        expect(page.get_by_test_id("cancel-execution")).to_have_count(0)

        context, admin = _second_context(
            chromium, daphne_server, sign_in, "admin", estate["fresh_admin"]
        )
        try:
            admin.goto(request_url)
            confirm = admin.get_by_test_id("cancel-execution")
            confirm.get_by_text("Cancel execution").click()
            expect(confirm).to_contain_text("will be stopped")
            confirm.get_by_label("Reason").fill("the maintenance window was moved")
            confirm.get_by_role("button", name="Yes, cancel the execution").click()
            expect(admin.get_by_text(re.compile(r"cancel accepted"))).to_be_visible()
            expect(_state(admin)).to_contain_text("Cancelled", timeout=EXECUTION_TIMEOUT_MS)
        finally:
            context.close()
        expect(_state(page)).to_contain_text("Cancelled", timeout=EXECUTION_TIMEOUT_MS)
        expect(page.get_by_test_id("timeline")).to_contain_text("the maintenance window was moved")
    finally:
        sim.cluster.clock.set_speed(SIM_SPEED)
    guest = sim.cluster.estate.guests[estate["vmid"]]
    assert guest.node == source
    assert not guest.lock
    stopped = [t for t in sim.cluster.tasks.tasks.values() if t.type == "qmigrate"]
    assert [t.exitstatus for t in stopped] == ["received interrupt"]


@pytest.mark.usefixtures("celery_worker_process")
def test_export_needs_manager_and_security_officer_and_the_artefact_expires(
    chromium, daphne_server, page, sign_in, estate, browser_stack, unique_name
):
    sim: RunningSim = estate["sim"]
    chain = unique_name("exports-manager-then-security")
    approvers = {"manager": estate["manager"], "security_officer": estate["security_officer"]}
    context, admin = _second_context(
        chromium, daphne_server, sign_in, "admin", estate["fresh_admin"]
    )
    try:
        admin.get_by_role("link", name="Approval chains").click()
        admin.get_by_role("link", name="New chain").click()
        admin.get_by_label("Name", exact=True).first.fill(chain)
        admin.get_by_label("Kind").select_option("export")
        first = admin.get_by_role("group", name="Step 1")
        first.get_by_label("Name").fill("Team manager")
        first.get_by_label("Approver rule").select_option("team_manager")
        second = admin.get_by_role("group", name="Step 2")
        second.get_by_label("Name").fill("Security officer")
        second.get_by_label("Approver rule").select_option("role")
        second.get_by_label("Role").select_option("security_officer")
        admin.get_by_role("button", name="Save chain").click()
        expect(admin.get_by_text(f"Chain {chain} saved.")).to_be_visible()
    finally:
        context.close()

    before = set(_volumes(sim, "nfs-iso", estate["vmid"]))
    sign_in(page, "end_user", username=estate["end_user"])
    page.goto(f"/inventory/vms/{estate['vm_pk']}/")
    page.get_by_role("link", name="Export a VM").click()
    form = page.get_by_test_id("request-form")
    form.get_by_label("Export storage", exact=True).select_option(label="nfs-iso")
    form.get_by_label("Available for (days)").fill("1")
    form.get_by_label("Justification").fill("hand the audit firm a copy of the web guest")
    form.get_by_role("button", name="Submit request").click()
    expect(_state(page)).to_contain_text("Waiting for approval")
    needed = page.locator("[data-step]")
    expect(needed).to_have_count(2)
    request_url = page.url

    for role, username in approvers.items():
        context, approver = _second_context(chromium, daphne_server, sign_in, role, username)
        try:
            approver.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Approvals", exact=True
            ).click()
            expect(approver.get_by_role("link", name="Export a VM")).to_have_count(1)
            approver.goto(request_url)
            approver.get_by_role("button", name="Approve").click()
            expect(approver.get_by_text(re.compile(r"Approved request #\d+"))).to_be_visible()
        finally:
            context.close()
        if role == "manager":
            # One approval of two: still waiting, now for the security officer.
            page.reload()
            expect(_state(page)).to_contain_text("Waiting for approval")

    expect(_state(page)).to_contain_text("Succeeded", timeout=EXECUTION_TIMEOUT_MS)
    archives = sorted(set(_volumes(sim, "nfs-iso", estate["vmid"])) - before)
    assert len(archives) == 1

    # Half a day on nothing is due; past the availability the archive is deleted in Proxmox.
    expired = json.loads(browser_stack.python(_EXPIRE, "0.5", "2").strip().splitlines()[-1])
    assert expired["0.5"] == []
    assert expired["2"] == archives
    sim.advance(60)  # Proxmox deletes a volume in a task (imgdel): let it run
    assert set(_volumes(sim, "nfs-iso", estate["vmid"])) == before
    page.goto(f"/inventory/vms/{estate['vm_pk']}/")
    copies = page.locator(
        "section", has=page.get_by_role("heading", name="Backups and other copies")
    )
    expect(copies).to_contain_text("Export")


def _volumes(sim: RunningSim, storage: str, vmid: int) -> list[str]:
    node = next(iter(sorted(sim.cluster.estate.nodes)))
    answer = sim.api("GET", f"/nodes/{node}/storage/{storage}/content", params={"vmid": vmid})
    answer.raise_for_status()
    return sorted(item["volid"] for item in answer.json()["data"])
