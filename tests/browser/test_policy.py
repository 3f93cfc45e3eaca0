"""A security officer creates a host-pinning policy, sees its dry run, saves it in enforce
mode; the violation shows, the worker migrates the guest back in Proxmox, and after the
next sync the violation shows as resolved on the VM page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from pvesim.server import default_certificate
from pvesim.testing import RunningSim, SimFarm
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.browser

# Migration, polling and a sync each go through the broker and the worker.
REMEDIATION_TIMEOUT_S = 90

# Runs in the browser stack's environment: register the simulated cluster with the root
# token (enforcement writes), sync it once, and describe one guest HA does not manage.
_SEED = """
import django, json, sys
django.setup()
from inventory.models import Cluster, VirtualMachine
from inventory.sync.service import cluster_sync
name, url, token_id, secret, fingerprint, vmid = sys.argv[1:7]
cluster = Cluster.objects.create(
    name=name, api_url=url, token_id=token_id, token_secret=secret, fingerprint=fingerprint
)
run = cluster_sync(cluster_id=cluster.pk, full=True)
assert run is not None and run.status in ("ok", "partial"), run and run.error
vm = VirtualMachine.objects.select_related("node").get(cluster=cluster, vmid=int(vmid))
print(json.dumps({"pk": vm.pk, "name": vm.name, "node": vm.node.name}))
"""

# A sync of this test's cluster (others in the shared database may be gone with their
# test's simulator); the reconciler runs right after it, in this process.
_SYNC = """
import django, sys
django.setup()
from inventory.models import Cluster
from inventory.sync.service import cluster_sync
cluster = Cluster.objects.get(name=sys.argv[1])
run = cluster_sync(cluster_id=cluster.pk, full=True)
assert run is not None and run.status in ("ok", "partial"), run and run.error
"""


@pytest.fixture
def browser_sim() -> Iterator[RunningSim]:
    farm = SimFarm(certificate=default_certificate())
    try:
        yield farm.start(identity="root")
    finally:
        farm.stop()


def _plain_guest(sim: RunningSim):
    estate = sim.cluster.estate
    managed = estate.ha_resources
    return next(
        guest
        for guest in estate.guests.values()
        if guest.kind == "qemu"
        and not guest.config.get("template")
        and guest.status == "running"
        and f"vm:{guest.vmid}" not in managed
    )


@pytest.mark.usefixtures("celery_worker_process")
def test_officer_pins_a_vm_sees_the_dry_run_and_the_violation_resolves(
    browser_stack, page, sign_in, browser_sim, unique_name
):
    sim = browser_sim
    # Unique in the shared database: other tests register simulated clusters too.
    cluster, policy = unique_name("pve-pin"), unique_name("pin-browser")
    guest = _plain_guest(sim)
    vm = json.loads(
        browser_stack.python(
            _SEED,
            cluster,
            sim.url,
            sim.token_id,
            sim.token_secret,
            fingerprint_of_file(sim.cert_file),
            str(guest.vmid),
        )
        .strip()
        .splitlines()[-1]
    )
    target = sorted(n for n in sim.cluster.estate.nodes if n != vm["node"])[0]

    sign_in(page, "security_officer")
    page.get_by_role("link", name="Policies", exact=True).click()
    page.get_by_role("link", name="New policy").click()
    form = page.get_by_role("form", name="Policy")
    form.get_by_label("Name", exact=True).fill(policy)
    form.get_by_label("Kind").select_option("host_pinning")
    form.get_by_label("Enforce (remediate)").check()
    form.get_by_label("VMs", exact=True).fill(str(vm["pk"]))
    form.get_by_label("Parameters").fill(f"allowed_nodes: [{target}]")
    form.get_by_label("Change note").fill("keep it on " + target)
    # No save before a dry run.
    expect(page.get_by_role("button", name=re.compile("^Save"))).to_have_count(0)
    page.get_by_role("button", name="Preview (dry run)").click()

    dry_run = page.get_by_test_id("dry-run")
    expect(dry_run).to_contain_text("Nothing has been changed")
    expect(dry_run.locator('[data-figure="violating"]')).to_have_text("1")
    expect(page.get_by_test_id("dry-run-vms")).to_contain_text(vm["name"])
    expect(page.get_by_test_id("dry-run-remediations")).to_contain_text(
        f"from {vm['node']} to {target}"
    )
    page.get_by_role("button", name="Save in enforce mode").click()
    expect(page.get_by_text(f"Saved {policy}, version 1.")).to_be_visible()
    expect(page.get_by_role("heading", name="Version history")).to_be_visible()

    # The next sync finds the guest off its allowed node and plans the migration.
    browser_stack.python(_SYNC, cluster)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Violations").click()
    # Guest names repeat across the simulated clusters of other tests: match the policy.
    row = page.locator("tr", has_text=vm["name"]).filter(has_text=policy)
    expect(row).to_contain_text(policy)
    expect(row).to_contain_text(f"runs on {vm['node']}")

    # The worker migrates it; simulated time moves only when told to.
    for _ in range(REMEDIATION_TIMEOUT_S):
        sim.advance(30)
        if sim.cluster.estate.guests[guest.vmid].node == target:
            break
        page.wait_for_timeout(1000)
    assert sim.cluster.estate.guests[guest.vmid].node == target, "the guest was not migrated"

    # After the next sync the violation is resolved, with its evidence kept.
    browser_stack.python(_SYNC, cluster)
    page.goto(f"/inventory/vms/{vm['pk']}/")
    section = page.locator("#policy-section")
    resolved = section.get_by_test_id("resolved-violations")
    expect(resolved).to_contain_text(policy)
    expect(resolved).to_contain_text(vm["node"])
    expect(section.get_by_test_id("open-violations")).to_contain_text("None open.")
    resolved.get_by_role("link", name="run log").click()
    # The guest is on its node once the migration task ends; the worker records the run
    # done at its next poll of that task, which may come a few seconds later.
    state = page.get_by_test_id("run-state")
    for _ in range(REMEDIATION_TIMEOUT_S):
        if state.inner_text().strip() == "Done":
            break
        sim.advance(30)
        page.wait_for_timeout(1000)
        page.reload()
    expect(state).to_have_text("Done")
