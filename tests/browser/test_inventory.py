"""An admin registers a simulated cluster in the browser, then browses what the sync found."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from pvesim.server import default_certificate
from pvesim.testing import RunningSim, SimFarm
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.browser

# The first sync goes web -> broker -> worker -> pvesim -> database.
SYNC_TIMEOUT_MS = 60_000


@pytest.fixture
def browser_sim() -> Iterator[RunningSim]:
    """A small simulated cluster served from this process; daphne's worker reaches it."""
    farm = SimFarm(certificate=default_certificate())
    try:
        yield farm.start()
    finally:
        farm.stop()


@pytest.mark.usefixtures("celery_worker_process")
def test_admin_registers_a_cluster_and_opens_a_synced_vm(page, sign_in, browser_sim, unique_name):
    sim = browser_sim
    # Other tests register simulated clusters too, with the same VMIDs and guest names.
    name = unique_name("pve-inv")
    sign_in(page, "admin")
    page.get_by_role("link", name="Clusters").click()
    page.get_by_role("link", name="Register a cluster").click()

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("API URL").fill(sim.url)
    page.get_by_label("Token id").fill(sim.token_id)
    page.get_by_label("Token secret").fill(sim.token_secret)
    page.get_by_label("SHA-256 fingerprint", exact=True).fill(fingerprint_of_file(sim.cert_file))
    page.get_by_role("button", name="Test connection only").click()

    report = page.locator("section", has=page.get_by_role("heading", name="Connection report"))
    expect(report).to_contain_text("every privilege sync needs is granted")
    expect(report).to_contain_text("Proxmox VE")
    node = next(iter(sim.cluster.estate.nodes))
    expect(report).to_contain_text(f"{node}: online")

    # The secret is never rendered back; type it again to register.
    page.get_by_label("Token secret").fill(sim.token_secret)
    page.get_by_role("button", name="Test and register").click()
    expect(page).to_have_url(re.compile(rf"/inventory/clusters/{name}/$"))
    expect(page.get_by_text("the first sync is queued")).to_be_visible()

    # Sync runs in the worker; reload until it has finished.
    last_sync = page.get_by_test_id("last-sync")
    for _ in range(SYNC_TIMEOUT_MS // 1000):
        if re.search(r"\bOK\b|Partial", last_sync.inner_text()):
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(last_sync).to_contain_text(re.compile(r"\bOK\b|Partial"))

    page.get_by_role("link", name="VMs", exact=True).click()
    guest = next(iter(sim.cluster.estate.guests.values()))
    page.get_by_label("Cluster").select_option(name)
    page.get_by_label("Search").fill(str(guest.vmid))
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(name)
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    # Other sections (ownership, filled in after load) have their own <dl>s.
    summary = page.get_by_role("region", name="Summary")
    expect(summary.locator("dl")).to_contain_text(str(guest.vmid))
    expect(page.get_by_role("heading", name="Residency timeline")).to_be_visible()

    # Pages fill live: a VM list open in another tab shows a guest created out of band as
    # soon as the next sync commits, without a reload.
    node = next(iter(sim.cluster.estate.nodes))
    newid = max(sim.cluster.estate.guests) + 1
    created = sim.api("POST", f"/nodes/{node}/qemu", data={"vmid": newid, "name": "live-new"})
    assert created.ok, created.text
    watcher = page.context.new_page()
    watcher.goto(f"/inventory/vms/?cluster={name}&q=live-new")
    expect(watcher.get_by_text("No virtual machines match")).to_be_visible()
    expect(watcher.locator("html")).to_have_attribute("data-live", "online")
    page.goto(f"/inventory/clusters/{name}/")
    page.get_by_role("button", name="Sync now").click()
    expect(watcher.locator("table.table tbody")).to_contain_text(
        "live-new", timeout=SYNC_TIMEOUT_MS
    )
