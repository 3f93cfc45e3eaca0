"""A security officer creates a host-pinning policy, sees its dry run, saves it in enforce
mode; the violation shows, the worker migrates the guest back in Proxmox, and after the
next sync the violation shows as resolved on the VM page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from pvesim.server import default_certificate
from pvesim.testing import RunningSim, SimFarm
from tests.browser.conftest import REPO
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.browser

POLICY = "pin-browser"
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

# A sync of every cluster; the reconciler runs right after it, in this process.
_SYNC = """
import django
django.setup()
from inventory.models import Cluster
from inventory.sync.service import cluster_sync
for cluster in Cluster.objects.all():
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


def _python(browser_stack, code: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=browser_stack.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


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
    browser_stack, page, sign_in, browser_sim
):
    sim = browser_sim
    guest = _plain_guest(sim)
    vm = json.loads(
        _python(
            browser_stack,
            _SEED,
            sim.name,
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
    form.get_by_label("Name", exact=True).fill(POLICY)
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
    expect(page.get_by_text(f"Saved {POLICY}, version 1.")).to_be_visible()
    expect(page.get_by_role("heading", name="Version history")).to_be_visible()

    # The next sync finds the guest off its allowed node and plans the migration.
    _python(browser_stack, _SYNC)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Violations").click()
    row = page.locator("tr", has_text=vm["name"])
    expect(row).to_contain_text(POLICY)
    expect(row).to_contain_text(f"runs on {vm['node']}")

    # The worker migrates it; simulated time moves only when told to.
    for _ in range(REMEDIATION_TIMEOUT_S):
        sim.advance(30)
        if sim.cluster.estate.guests[guest.vmid].node == target:
            break
        page.wait_for_timeout(1000)
    assert sim.cluster.estate.guests[guest.vmid].node == target, "the guest was not migrated"

    # After the next sync the violation is resolved, with its evidence kept.
    _python(browser_stack, _SYNC)
    page.goto(f"/inventory/vms/{vm['pk']}/")
    section = page.locator("#policy-section")
    resolved = section.get_by_test_id("resolved-violations")
    expect(resolved).to_contain_text(POLICY)
    expect(resolved).to_contain_text(vm["node"])
    expect(section.get_by_test_id("open-violations")).to_contain_text("None open.")
    resolved.get_by_role("link", name="run log").click()
    expect(page.get_by_test_id("run-state")).to_have_text("Done")
