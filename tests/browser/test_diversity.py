"""A manager opens the OS diversity report of their team, sees which guest runs an OS past
its end of life, and follows the count to the filtered VM list."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from pvesim.server import default_certificate
from pvesim.testing import RunningSim, SimFarm
from tests.browser.conftest import BROWSER_USERS
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.browser

# Runs in the browser stack's environment: the test's cluster synced (the guest agents
# are read by the sync itself), its two guests owned by the manager's new team.
_SEED = """
import django, json, sys
django.setup()
from django.contrib.auth import get_user_model
from governance.accounts.services import team_create, team_member_add
from governance.ownership.services import ownership_assign
from inventory.models import Cluster, VirtualMachine
from inventory.sync.service import cluster_sync
spec = json.loads(sys.argv[1])
User = get_user_model()
admin = User.objects.get(username=spec["admin"])
cluster = Cluster.objects.create(
    name=spec["cluster"], api_url=spec["url"], token_id=spec["token_id"],
    token_secret=spec["token_secret"], fingerprint=spec["fingerprint"],
)
run = cluster_sync(cluster_id=cluster.pk, full=True)
assert run is not None and run.status in ("ok", "partial"), (run and run.error)
team = team_create(actor=admin, name=spec["team"])
manager = User.objects.get(username=spec["manager"])
team_member_add(actor=admin, team=team, user=manager, is_manager=True)
for vmid in spec["guests"]:
    guest = VirtualMachine.objects.get(cluster=cluster, vmid=vmid, gone_since__isnull=True)
    ownership_assign(actor=admin, vm=guest, team=team, reason="the team's guest")
    print(guest.name)
"""


@pytest.fixture
def diversity_sim() -> Iterator[RunningSim]:
    farm = SimFarm(certificate=default_certificate())
    try:
        yield farm.start()
    finally:
        farm.stop()


def _guests(sim: RunningSim) -> tuple[int, str, int]:
    """A running Linux VM whose agent answers (its report key, e.g. ``debian:12``) and a
    stopped VM, turned into a Windows 7 guest by its config (end of life by type alone)."""
    guests = sorted(sim.cluster.estate.guests.values(), key=lambda g: g.vmid)
    answering = next(
        g
        for g in guests
        if g.kind == "qemu"
        and g.status == "running"
        and g.agent_installed
        and g.config.get("agent") == "1"
        and g.os_release
        and g.config.get("template") != "1"
    )
    stopped = next(
        g
        for g in guests
        if g.kind == "qemu" and g.status == "stopped" and g.config.get("template") != "1"
    )
    response = sim.api(
        "PUT", f"/nodes/{stopped.node}/qemu/{stopped.vmid}/config", data={"ostype": "win7"}
    )
    assert response.status_code == 200, response.text
    key = f"{answering.os_release['id']}:{answering.os_release['version-id']}"
    return answering.vmid, key, stopped.vmid


def test_manager_sees_the_team_end_of_life_guest_and_opens_it(
    page, sign_in, browser_stack, diversity_sim, unique_name, make_user
) -> None:
    sim = diversity_sim
    linux, linux_key, windows = _guests(sim)
    manager = make_user("manager")
    spec = {
        "admin": BROWSER_USERS["admin"],
        "manager": manager,
        "cluster": unique_name("pve-div"),
        "team": unique_name("os-team"),
        "url": sim.url,
        "token_id": sim.token_id,
        "token_secret": sim.token_secret,
        "fingerprint": fingerprint_of_file(sim.cert_file),
        "guests": [linux, windows],
    }
    linux_name, windows_name = browser_stack.python(_SEED, json.dumps(spec)).split()[-2:]

    sign_in(page, "manager", username=manager)
    page.get_by_role("link", name="OS diversity").click()
    rows = page.locator("#diversity tbody tr")
    expect(rows).to_have_count(2)  # the team's two guests, nothing of other tests
    ended = page.locator('#diversity tr[data-os="ostype:win7"]')
    expect(ended).to_have_class("row--eol")
    expect(ended).to_contain_text("end of life")
    expect(ended).to_contain_text("Windows 7")
    current = page.locator(f'#diversity tr[data-os="{linux_key}"]')
    expect(current).to_contain_text("guest agent")
    expect(current).not_to_contain_text("end of life")
    expect(page.get_by_text("1 run an operating system past its end of life")).to_be_visible()

    ended.get_by_role("link", name="1").click()
    expect(page).to_have_url(re.compile(r"/inventory/vms/\?os=ostype%3Awin7$"))
    listed = page.locator("table.table tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(windows_name)
    expect(listed).not_to_contain_text(linux_name)
