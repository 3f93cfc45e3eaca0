"""An auditor opens a node's exposure report from the node list, reads who ran there and
where their copies went, narrows the window, and exports the report as CSV; picking a
cluster narrows the node select to that cluster's nodes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Runs in the browser stack's environment: a cluster of its own with two guests that
# lived on host1 (one owned by nobody, one with an export on removable storage).
_ESTATE = """
import django, sys
django.setup()
from datetime import timedelta
from django.utils import timezone
from inventory.models import Cluster, Copy, Node, Residency, VirtualMachine
name = sys.argv[1]
now = timezone.now()
cluster = Cluster.objects.create(
    name=name, api_url="https://127.0.0.1:1", token_id="a@pve!t", token_secret="not-used"
)
host = Node.objects.create(cluster=cluster, name="host1", first_seen=now, last_seen=now)
elsewhere = Cluster.objects.create(
    name=f"{name}-b", api_url="https://127.0.0.1:1", token_id="a@pve!t", token_secret="x"
)
Node.objects.create(cluster=elsewhere, name="host7", first_seen=now, last_seen=now)
for vmid, label, days in ((100, "ledger-db", 3), (101, "payroll", 40)):
    vm = VirtualMachine.objects.create(
        cluster=cluster, vmid=vmid, kind="qemu", name=f"{label}-{name}",
        first_seen=now - timedelta(days=90), last_seen=now,
    )
    Residency.objects.create(
        vm=vm, node=host, started_at=now - timedelta(days=days), cause="migrate"
    )
Copy.objects.create(
    vm=vm, cluster=cluster, source_vmid=101, kind="export", name="payroll.vma.zst",
    storage_name="usb-stick", storage_class="removable", created_at=now - timedelta(days=2),
)
"""


def test_auditor_opens_the_exposure_report_from_the_node_list(
    page, sign_in, browser_stack, unique_name
):
    name = unique_name("pve-expo")
    browser_stack.python(_ESTATE, name)
    sign_in(page, "auditor")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Exposure")).to_be_visible()
    page.goto(f"/inventory/nodes/?cluster={name}")
    page.get_by_role("link", name="Exposure report of host1").click()

    expect(page.get_by_role("heading", name=f"{name} / host1")).to_be_visible()
    summary = page.locator(".exposure-summary")
    expect(summary).to_contain_text("2 guests ran here")
    expect(summary).to_contain_text("1 copy made of them since, 1 on removable or external")
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(2)
    risky = page.locator("li.exposure-risky")
    expect(risky).to_contain_text("payroll.vma.zst")
    expect(risky).to_contain_text("usb-stick")

    # A window that ends before it starts is refused beside the field.
    page.get_by_label("From").fill("2026-01-02T00:00")
    page.get_by_label("To").fill("2026-01-01T00:00")
    page.get_by_role("button", name="Show report").click()
    expect(page.locator("#id_since_error")).to_contain_text("must start before it ends")
    expect(page.locator("table.table")).to_have_count(0)

    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    body = download.value.path().read_text()
    assert f"ledger-db-{name}" in body
    assert "payroll.vma.zst" in body

    page.get_by_role("link", name=f"ledger-db-{name}").click()
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()


def test_picking_a_cluster_limits_the_node_choices(page, sign_in, browser_stack, unique_name):
    name = unique_name("pve-expo")
    browser_stack.python(_ESTATE, name)
    sign_in(page, "auditor")
    page.goto("/inventory/exposure/")
    node = page.get_by_label("Node", exact=True)
    # Before a cluster is picked, every cluster's nodes are offered, grouped.
    expect(node.locator(f'optgroup[label="{name}"] option')).to_have_text(["host1"])
    expect(node.locator(f'optgroup[label="{name}-b"] option')).to_have_text(["host7"])

    page.get_by_label("Cluster").select_option(f"{name}-b")
    expect(node.locator("option", has_text="host1")).to_have_count(0)
    expect(node.locator("option")).to_have_count(2)  # the placeholder and host7
    node.select_option("host7")
    page.get_by_role("button", name="Show report").click()
    expect(page.get_by_role("heading", name=f"{name}-b / host7")).to_be_visible()
    expect(page.locator(".exposure-summary")).to_contain_text("0 guests ran here")
