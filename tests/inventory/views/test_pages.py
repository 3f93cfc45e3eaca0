"""Inventory pages: the permission triple (allowed 200, not allowed 403, invisible 404)."""

from __future__ import annotations

import pytest

from governance.accounts.roles import Role
from governance.audit.models import AuditEvent
from inventory.models import Storage

pytestmark = pytest.mark.django_db

READERS = [Role.ADMIN, Role.SECURITY_OFFICER, Role.AUDITOR]
OTHERS = [Role.END_USER, Role.MANAGER]


def _pages(estate: dict) -> list[str]:
    return [
        "/inventory/clusters/",
        f"/inventory/clusters/{estate['cluster'].name}/",
        "/inventory/nodes/",
        "/inventory/storage/",
        "/inventory/vms/",
        f"/inventory/vms/{estate['web'].pk}/",
    ]


@pytest.mark.parametrize("role", READERS)
def test_readers_open_every_page(client_for, estate, role):
    client = client_for(role)
    for url in _pages(estate):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/inventory/vms/{estate['web'].pk}/").content.decode()
    for expected in (
        "web-1",
        "before-upgrade",
        "after-upgrade",
        "host=1234:5678",
        "Migration",
        "tpl-debian",
        "qmstart",
        "old-db",
        "local:iso/debian.iso",
        "d1",
    ):
        assert expected in page, expected


@pytest.mark.parametrize("role", OTHERS)
def test_others_see_empty_lists_and_no_objects(client_for, estate, role):
    client = client_for(role)
    listing = client.get("/inventory/vms/")
    assert listing.status_code == 200
    assert "web-1" not in listing.content.decode()
    assert client.get(f"/inventory/vms/{estate['web'].pk}/").status_code == 404
    assert client.get(f"/inventory/clusters/{estate['cluster'].name}/").status_code == 404
    assert "pve-test" not in client.get("/inventory/clusters/").content.decode()


def test_anonymous_is_sent_to_sign_in(client, estate):
    response = client.get("/inventory/vms/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "status"), [(Role.ADMIN, 200), (Role.AUDITOR, 403), (Role.SECURITY_OFFICER, 403)]
)
def test_only_admins_open_the_register_form(client_for, role, status):
    assert client_for(role).get("/inventory/clusters/new/").status_code == status


def test_sync_now_triple(client_for, estate, monkeypatch):
    queued = []
    monkeypatch.setattr("inventory.services.clusters._queue_sync", queued.append)
    url = f"/inventory/clusters/{estate['cluster'].name}/sync/"
    assert client_for(Role.END_USER).post(url).status_code == 404
    assert client_for(Role.AUDITOR).post(url).status_code == 403
    response = client_for(Role.ADMIN).post(url)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="inventory.cluster.sync_request").count() == 1


def test_sync_now_button_only_for_admins(client_for, estate):
    url = f"/inventory/clusters/{estate['cluster'].name}/"
    assert "Sync now" in client_for(Role.ADMIN).get(url).content.decode()
    assert "Sync now" not in client_for(Role.AUDITOR).get(url).content.decode()


def test_storage_class_inline_triple(client_for, estate):
    storage = estate["storage"]
    url = f"/inventory/storage/{storage.pk}/class/"
    data = {"storage_class": "quarantine"}
    assert client_for(Role.END_USER).post(url, data).status_code == 404
    assert client_for(Role.AUDITOR).post(url, data).status_code == 403
    response = client_for(Role.ADMIN).post(url, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'value="quarantine" selected' in response.content.decode()
    storage.refresh_from_db()
    assert storage.storage_class == "quarantine"
    event = AuditEvent.objects.get(action="inventory.storage.classify")
    assert event.before == {"storage_class": "unclassified"}
    assert event.after == {"storage_class": "quarantine"}


def test_storage_class_rejects_unknown_values(client_for, estate):
    url = f"/inventory/storage/{estate['storage'].pk}/class/"
    response = client_for(Role.ADMIN).post(url, {"storage_class": "nope"}, HTTP_HX_REQUEST="1")
    assert response.status_code == 400
    assert Storage.objects.get().storage_class == "unclassified"


def test_storage_page_shows_per_node_status_and_inline_select_for_admins(client_for, estate):
    admin_page = client_for(Role.ADMIN).get("/inventory/storage/").content.decode()
    assert "node1: available" in admin_page
    assert 'hx-post="/inventory/storage/' in admin_page
    auditor_page = client_for(Role.AUDITOR).get("/inventory/storage/").content.decode()
    assert "hx-post" not in auditor_page


def test_vm_list_marks_the_sorted_column_and_pages_with_a_cursor(client_for, estate, monkeypatch):
    monkeypatch.setattr("inventory.views.guests.PAGE_SIZE", 1)
    page = client_for(Role.ADMIN).get("/inventory/vms/?sort=-vmid").content.decode()
    assert 'aria-sort="descending"' in page
    assert "sort=vmid" in page  # clicking the sorted column flips it
    assert 'rel="next"' in page
    assert '<span aria-disabled="true">Previous</span>' in page
