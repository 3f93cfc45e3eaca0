"""A request's parameters in people's words: per kind the labels and values an approver
reads, ids resolved to names only for viewers who may see the object, empty values left
out, and the request page showing them instead of the stored keys."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.approvals.models import Request
from governance.approvals.parameters_display import ParameterLine, describe_parameters
from governance.core.permissions import can
from inventory.models import VirtualMachine
from policy.models import Policy
from tests.inventory.estate import make_cluster

pytestmark = pytest.mark.django_db


def _lines(scene, kind: str, viewer, vm=None, **params) -> dict[str, ParameterLine]:
    found = Request(kind=kind, vm=vm, cluster=scene.web.cluster, parameters=params)
    lines = describe_parameters(found, viewer=viewer)
    labels = [line.label for line in lines]
    assert len(labels) == len(set(labels)), labels
    return {line.label: line for line in lines}


def _template(scene) -> VirtualMachine:
    return VirtualMachine.objects.get(cluster=scene.web.cluster, vmid=9000)


def _provision(scene, viewer, **extra) -> dict[str, ParameterLine]:
    params = {
        "name": "build-7",
        "node": "node1",
        "template": _template(scene).pk,
        "cores": 4,
        "memory_mib": 3072,
        "disk_gib": 16,
        "storage": "local-lvm",
        "team": scene.ops.pk,
        "classification": "sensitive",
        "lease_end": None,
        "source": "clone",
    }
    return _lines(scene, "provision", viewer, **(params | extra))


def test_provision_resolves_template_and_team_for_whoever_may_see_them(scene):
    lines = _provision(scene, scene.admin)
    template = _template(scene)
    assert lines["Template"] == (
        "Template",
        "tpl-debian (9000)",
        reverse("inventory:vm", kwargs={"pk": template.pk}),
    )
    assert lines["Team"] == ("Team", "Ops", reverse("accounts:team", kwargs={"slug": "ops"}))
    assert lines["Memory"].text == "3 GiB"
    assert lines["CPU cores"].text == "4"
    assert lines["Disk"].text == "the template's disks"
    assert lines["Classification"].text == "Sensitive"
    assert lines["Lease end"].text == "no end"
    assert lines["Node"].text == "node1"
    assert lines["Storage"].text == "local-lvm"
    assert "Source" not in lines
    assert "source" not in lines


def test_provision_never_names_a_template_the_viewer_cannot_see(scene):
    template = _template(scene)
    assert not can(scene.carol, "view", template)
    assert not can(scene.carol, "view", scene.ops)
    lines = _provision(scene, scene.carol)
    assert lines["Template"] == ("Template", "a VM you cannot view", None)
    assert all("tpl-debian" not in line.text for line in lines.values())
    # The team is part of what was asked: named, but not linked to a page they cannot open.
    assert lines["Team"] == ("Team", "Ops", None)


def test_provision_from_scratch_with_a_lease_and_no_team(scene):
    lines = _provision(
        scene,
        scene.alice,
        template=None,
        source="scratch",
        team=None,
        memory_mib=512,
        lease_end="2027-01-31",
    )
    assert lines["Template"].text == "none: an empty VM"
    assert lines["Disk"].text == "16 GiB"
    assert lines["Memory"].text == "512 MiB"
    assert lines["Lease end"].text == "2027-01-31"
    assert "Team" not in lines


def test_import_of_an_image_and_of_another_clusters_guest(scene):
    lines = _lines(
        scene,
        "import",
        scene.admin,
        source_volume="import:import/disk.qcow2",
        name="legacy",
        node="node1",
        storage="local-lvm",
        team=None,
        classification="internal",
        cores=None,
        memory_mib=1536,
        bridge="",
    )
    assert lines["Disk image or appliance"].text == "import:import/disk.qcow2"
    assert lines["Memory"].text == "1.5 GiB"
    assert lines["Classification"].text == "Internal"
    assert not {"Team", "CPU cores", "Network bridge", "Source VM"} & set(lines)
    remote = _lines(
        scene, "import", scene.admin, source_cluster="pve-test", source_vmid=100, name="x"
    )
    assert remote["Source VM"] == (
        "Source VM",
        "web-1 (100)",
        reverse("inventory:vm", kwargs={"pk": scene.web.pk}),
    )
    assert "Source VM id" not in remote
    hidden = _lines(
        scene, "import", scene.carol, source_cluster="pve-test", source_vmid=101, name="x"
    )
    assert hidden["Source VM"].text == "a VM you cannot view"


def test_export_backup_and_copy_to_a_cluster_the_viewer_cannot_see(scene):
    backup = _lines(
        scene,
        "export",
        scene.alice,
        vm=scene.web,
        method="backup",
        storage="usb-export",
        available_days=1,
    )
    assert backup["Method"].text == "Backup to an export storage of this cluster"
    assert backup["Export storage"].text == "usb-export"
    assert backup["Available for"].text == "1 day"
    other = make_cluster("pve-far")
    params = {
        "method": "cluster",
        "target_cluster": other.name,
        "target_node": "node2",
        "target_storage": "local-lvm",
        "available_days": 7,
    }
    shown = _lines(scene, "export", scene.admin, vm=scene.web, **params)
    assert shown["Target cluster"] == (
        "Target cluster",
        "pve-far",
        reverse("inventory:cluster", kwargs={"name": "pve-far"}),
    )
    assert shown["Target node"].text == "node2"
    assert shown["Available for"].text == "7 days"
    assert not can(scene.carol, "view", other)
    hidden = _lines(scene, "export", scene.carol, vm=scene.web, **params)
    assert hidden["Target cluster"].text == "a cluster you cannot view"
    assert all("pve-far" not in line.text for line in hidden.values())
    assert hidden["Target node"].text.startswith("not shown")


def test_migrate_and_clone_say_yes_and_no(scene):
    migrate = _lines(scene, "migrate", scene.alice, target_node="node2", online=True)
    assert [tuple(line) for line in migrate.values()] == [
        ("Target node", "node2", None),
        ("Live migration", "Yes", None),
    ]
    clone = _lines(
        scene,
        "clone",
        scene.alice,
        name="web-copy",
        target_node="node2",
        full=False,
        template=True,
    )
    assert clone["Full clone"].text == "No"
    assert clone["Made a template"].text == "Yes"
    assert clone["Name"].text == "web-copy"


@pytest.mark.parametrize("kind", ["rollback", "snapshot_delete"])
def test_snapshot_kinds_name_the_snapshot(scene, kind):
    lines = _lines(scene, kind, scene.alice, snapshot="before-upgrade")
    assert list(lines.values()) == [("Snapshot", "before-upgrade", None)]


def test_access_and_ownership_transfer_name_people_and_times(scene):
    starts = timezone.make_aware(datetime(2026, 12, 1, 9, 30))
    ends = timezone.make_aware(datetime(2026, 12, 2, 18, 0))
    access = _lines(
        scene,
        "access",
        scene.manager,
        grantee=scene.carol.pk,
        role="PVEVMUser",
        starts_at=starts.isoformat(),
        ends_at=ends.isoformat(),
    )
    carol = f"{scene.carol.get_full_name()} (carol)"
    assert access["For"].text == carol
    assert access["Proxmox role"].text == "VM user (console, power)"
    assert access["From"].text == "2026-12-01 09:30"
    assert access["Until"].text == "2026-12-02 18:00"
    transfer = _lines(
        scene,
        "ownership_transfer",
        scene.admin,
        owner=scene.carol.pk,
        team=scene.dev.pk,
        custodian=None,
    )
    assert transfer["New owner"].text == carol
    assert transfer["New team"].text == "Dev"
    assert "New custodian" not in transfer
    assert not can(scene.manager, "view", scene.dev)
    seen_by_manager = _lines(scene, "ownership_transfer", scene.manager, team=scene.dev.pk)
    # The approving manager must know which team receives the VM.
    assert (seen_by_manager["New team"].text, seen_by_manager["New team"].url) == ("Dev", None)


def test_exception_and_backup_delete(scene):
    now = timezone.now()
    policy = Policy.objects.create(
        name=f"no-usb-{uuid.uuid4().hex[:6]}",
        kind="devices",
        scope={},
        parameters={},
        created_at=now,
        updated_at=now,
    )
    lines = _lines(scene, "exception", scene.admin, policy=policy.pk, until="2027-03-01")
    assert lines["Policy"] == (
        "Policy",
        policy.name,
        reverse("policy:policy", kwargs={"pk": policy.pk}),
    )
    assert lines["Until"].text == "2027-03-01"
    backup = _lines(
        scene,
        "backup_delete",
        scene.admin,
        volid="usb-export:backup/vzdump-qemu-100.vma.zst",
        violation=987654,
    )
    assert backup["Backup"].text == "usb-export:backup/vzdump-qemu-100.vma.zst"
    assert backup["For violation"].text == "violation #987654, no longer known"
    assert "For violation" not in _lines(scene, "backup_delete", scene.admin, volid="b:1")


def test_undeclared_keys_still_show_readably(scene):
    lines = _lines(scene, "migrate", scene.alice, target_node="node2", force_offline=True)
    assert lines["Force offline"].text == "Yes"


def _stored(scene, requester, kind: str, **params) -> Request:
    now = timezone.now()
    return Request.objects.create(
        kind=kind,
        requester=requester,
        cluster=scene.web.cluster,
        team=scene.ops,
        parameters=params,
        justification="a new build machine for the team",
        idempotency_key=str(uuid.uuid4()),
        created_at=now,
        updated_at=now,
    )


def test_request_page_shows_labelled_values_and_hides_what_the_viewer_cannot_see(client, scene):
    template = _template(scene)
    found = _stored(
        scene,
        scene.alice,
        "provision",
        name="build-8",
        node="node1",
        template=template.pk,
        cores=2,
        memory_mib=4096,
        disk_gib=16,
        storage="local-lvm",
        team=scene.ops.pk,
        classification="internal",
        lease_end=None,
        source="clone",
    )
    url = reverse("approvals:request", kwargs={"pk": found.pk})
    client.force_login(scene.admin)
    page = client.get(url).content.decode()
    assert "<dt>Memory</dt><dd>4 GiB</dd>" in page
    assert "<dt>Lease end</dt><dd>no end</dd>" in page
    vm_url = reverse("inventory:vm", kwargs={"pk": template.pk})
    assert f'<a href="{vm_url}">tpl-debian (9000)</a>' in page
    assert "memory_mib" not in page
    assert "lease_end" not in page
    assert not can(scene.alice, "view", template)
    client.force_login(scene.alice)
    page = client.get(url).content.decode()
    assert "<dt>Template</dt><dd>a VM you cannot view</dd>" in page
    assert "tpl-debian" not in page


def test_request_page_without_parameters_shows_a_dash(client, scene):
    found = _stored(scene, scene.alice, "rollback")
    client.force_login(scene.alice)
    page = client.get(reverse("approvals:request", kwargs={"pk": found.pk})).content.decode()
    assert "<dt>Parameters</dt><dd>—</dd>" in page


def test_api_detail_adds_parameters_display_and_keeps_raw_values(client, scene):
    template = _template(scene)
    found = _stored(scene, scene.alice, "provision", template=template.pk, memory_mib=2048)
    url = f"/api/approvals/requests/{found.pk}/"
    client.force_login(scene.admin)
    body = client.get(url).json()
    assert body["parameters"] == {"template": template.pk, "memory_mib": 2048}
    assert {"label": "Memory", "text": "2 GiB", "url": None} in body["parameters_display"]
    client.force_login(scene.alice)
    shown = {line["label"]: line for line in client.get(url).json()["parameters_display"]}
    assert shown["Template"] == {"label": "Template", "text": "a VM you cannot view", "url": None}
    listed = client.get("/api/approvals/requests/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert all("parameters_display" not in row for row in rows)
