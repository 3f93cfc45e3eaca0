"""Inventory API: permission triple, filters and search like the page, keyset pages."""

from __future__ import annotations

import pytest

from governance.accounts.roles import Role
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.django_db

BASE = "/api/inventory"


def _lists() -> list[str]:
    return [
        "clusters",
        "nodes",
        "storage",
        "vms",
        "residency",
        "copies",
        "lineage",
        "tasks",
        "sync-runs",
    ]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.SECURITY_OFFICER])
def test_readers_list_everything(api_for, estate, role):
    client = api_for(role)
    for name in _lists():
        response = client.get(f"{BASE}/{name}/")
        assert response.status_code == 200, name
        assert response.json()["results"], name
    assert client.get(f"{BASE}/vms/{estate['web'].pk}/").status_code == 200
    assert client.get(f"{BASE}/clusters/pve-test/").status_code == 200


def test_others_get_empty_lists_and_404(api_for, estate):
    client = api_for(Role.END_USER)
    for name in _lists():
        assert client.get(f"{BASE}/{name}/").json()["results"] == [], name
    assert client.get(f"{BASE}/vms/{estate['web'].pk}/").status_code == 404
    assert client.get(f"{BASE}/clusters/pve-test/").status_code == 404
    patch = client.patch(f"{BASE}/storage/{estate['storage'].pk}/", {"storage_class": "approved"})
    assert patch.status_code == 404


def test_secret_is_never_returned(api_for, estate):
    body = api_for(Role.ADMIN).get(f"{BASE}/clusters/pve-test/").content.decode()
    assert "token_secret" not in body
    assert "secret-not-shown" not in body


def test_storage_class_triple(api_for, estate):
    url = f"{BASE}/storage/{estate['storage'].pk}/"
    assert api_for(Role.AUDITOR).patch(url, {"storage_class": "approved"}).status_code == 403
    response = api_for(Role.ADMIN).patch(url, {"storage_class": "approved"}, format="json")
    assert response.status_code == 200
    assert response.json()["storage_class"] == "approved"
    bad = api_for(Role.ADMIN).patch(url, {"storage_class": "nope"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "validation_error"


def test_vm_detail_has_devices_disks_and_nics(api_for, estate):
    vm = api_for(Role.AUDITOR).get(f"{BASE}/vms/{estate['web'].pk}/").json()
    assert vm["nics"][0]["mac"] == "BC:24:11:00:00:01"
    assert {d["key"] for d in vm["disks"]} == {"scsi0", "ide2"}
    assert vm["disks"][0]["storage_class"] in ("unclassified", None)
    assert vm["devices"] == [{"key": "usb0", "kind": "usb", "value": "host=1234:5678"}]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("q=100", {"web-1"}),
        ("q=bc-24-11-00-00-01", {"web-1", "old-db"}),
        ("q=11111111-2222-3333-4444-555555555555", {"web-1", "old-db"}),
        ("q=WEB", {"web-1"}),
        ("tag=prod", {"web-1"}),
        ("tag=pro", set()),
        ("template=yes", {"tpl-debian"}),
        ("dormant=yes", {"old-db"}),
        ("status=stopped&node=node2", {"tpl-debian", "old-db"}),
        ("cluster=other", set()),
        ("kind=lxc", set()),
        ("gone=yes", set()),
    ],
)
def test_vm_filters_and_search(api_for, estate, query, names):
    response = api_for(Role.ADMIN).get(f"{BASE}/vms/?{query}")
    assert response.status_code == 200
    assert {vm["name"] for vm in response.json()["results"]} == names


def test_invalid_filter_and_cursor_are_validation_errors(api_for, estate):
    client = api_for(Role.ADMIN)
    assert client.get(f"{BASE}/vms/?status=exploded").status_code == 400
    response = client.get(f"{BASE}/vms/?cursor=garbage")
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


def test_fields_selection(api_for, estate):
    rows = api_for(Role.ADMIN).get(f"{BASE}/vms/?fields=vmid,name").json()["results"]
    assert all(set(row) == {"vmid", "name"} for row in rows)


def test_keyset_pages_walk_forward_and_back_without_repeats(api_for, estate):
    client = api_for(Role.ADMIN)
    first = client.get(f"{BASE}/vms/?page_size=2&sort=-vmid").json()
    assert [r["vmid"] for r in first["results"]] == [9000, 101]
    second = client.get(first["next"]).json()
    assert [r["vmid"] for r in second["results"]] == [100]
    assert second["next"] is None
    back = client.get(second["previous"]).json()
    assert [r["vmid"] for r in back["results"]] == [9000, 101]


def test_register_through_the_api(api_for, sim, monkeypatch):
    monkeypatch.setattr("inventory.services.clusters._queue_sync", lambda pk: None)
    body = {
        "name": sim.name,
        "url": sim.url,
        "token_id": sim.token_id,
        "token_secret": sim.token_secret,
        "fingerprint": fingerprint_of_file(sim.cert_file),
    }
    assert api_for(Role.AUDITOR).post(f"{BASE}/clusters/", body).status_code == 403
    created = api_for(Role.ADMIN).post(f"{BASE}/clusters/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["connection_report"]["ok"] is True
    assert "token_secret" not in created.json()["cluster"]
    wrong = api_for(Role.ADMIN).post(
        f"{BASE}/clusters/", {**body, "name": "other", "token_secret": "x"}, format="json"
    )
    assert wrong.status_code == 400
    assert "token was refused" in wrong.json()["error"]["fields"]["connection"][0]
