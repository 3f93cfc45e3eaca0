"""Defects a walk through the demo found: console errors and pages too wide for a phone."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Runs in the browser stack: one cluster with storages whose cells hold several facts.
_STORAGES = """
import django, json, sys
django.setup()
from django.utils import timezone
from inventory.models import Cluster, Node, Storage, StorageNodeStatus
name, storages = sys.argv[1], json.loads(sys.argv[2])
now = timezone.now()
cluster = Cluster.objects.create(
    name=name, api_url="https://127.0.0.1:8006", token_id="steward@pve!sync",
    token_secret="not-used", fingerprint="ab" * 32,
)
nodes = [
    Node.objects.create(cluster=cluster, name=f"{name}-node{i}", first_seen=now, last_seen=now)
    for i in range(3)
]
for storage_name in storages:
    storage = Storage.objects.create(
        cluster=cluster, name=storage_name, plugintype="lvmthin",
        content=["images", "rootdir", "backup", "iso"], first_seen=now, last_seen=now,
    )
    for node in nodes:
        StorageNodeStatus.objects.create(
            storage=storage, node=node, status="available",
            disk=3 * 2**40, maxdisk=8 * 2**40, updated_at=now,
        )
"""

# Runs in the browser stack: a request of ``username`` whose execution cloned a template.
_EXECUTED_REQUEST = """
import django, sys, uuid
django.setup()
from django.utils import timezone
from governance.accounts.models import User
from governance.approvals.models import Execution, ExecutionStep, Request
from inventory.models import Cluster
username, cluster_name = sys.argv[1:3]
now = timezone.now()
cluster = Cluster.objects.create(
    name=cluster_name, api_url="https://127.0.0.1:8006", token_id="steward@pve!sync",
    token_secret="not-used", fingerprint="ab" * 32,
)
request = Request.objects.create(
    kind="provision", requester=User.objects.get(username=username), cluster=cluster,
    parameters={"name": "phone-vm"}, justification="a VM to read on a phone",
    state="executing", idempotency_key=uuid.uuid4().hex, created_at=now, updated_at=now,
)
execution = Execution.objects.create(request=request, started_at=now)
ExecutionStep.objects.create(
    execution=execution, position=0, name="clone", label="Clone the template", state="done",
    upid="UPID:alpha1:00001000:2FE66F0F:6B091315:qmclone:9000:root@pam!steward:",
    log="create full clone of drive scsi0 (ceph-rbd:base-9000-disk-0)\\nTASK OK",
)
print(request.pk)
"""


def test_pages_name_an_icon_so_the_browser_logs_no_404(page):
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    page.goto("/accounts/login/")
    page.wait_for_load_state("networkidle")

    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon
    assert page.request.get(icon).status == 200
    assert errors == []


def test_storage_classes_fit_a_phone_for_an_admin(page, sign_in, browser_stack, unique_name):
    cluster = unique_name("pve-phone")
    storages = [f"{cluster}-{index}" for index in range(4)]
    browser_stack.python(_STORAGES, cluster, json.dumps(storages))
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "admin")

    page.goto("/inventory/storage/")
    # An admin's rows carry a class select with a visually hidden label per storage.
    assert page.get_by_label(f"Class of {storages[0]}").count() == 1
    # The table scrolls inside its box; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Each node's status stays on one line rather than a word a line.
    row = page.locator("tbody tr", has_text=storages[0])
    assert row.bounding_box()["height"] < 200


def test_an_execution_log_fits_a_phone(page, sign_in, browser_stack, make_user, unique_name):
    username = make_user("end_user")
    pk = browser_stack.python(_EXECUTED_REQUEST, username, unique_name("pve-log")).strip()
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, "end_user", username=username)

    page.goto(f"/approvals/{pk}/")

    step = page.locator("[data-execution-step=clone]")
    expect(step.locator("pre")).to_contain_text("TASK OK")
    # The long task id and the log wrap inside the card; the page never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The log sits under the step's name, not squeezed beside it (one read: live updates
    # may re-render the step between two).
    below = step.evaluate(
        "li => li.querySelector('pre').getBoundingClientRect().top"
        " >= li.querySelector('strong').getBoundingClientRect().bottom"
    )
    assert below, step.inner_html()
