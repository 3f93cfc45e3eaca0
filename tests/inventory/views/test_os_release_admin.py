"""Admins keep the end-of-life table in Django admin; every change is audited."""

from __future__ import annotations

import pytest
from django.test import Client

from governance.accounts.roles import Role
from governance.audit.models import AuditEvent
from inventory.models import OsRelease
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
LIST = "/django-admin/inventory/osrelease/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_only_admins_open_the_table() -> None:
    assert _client(UserFactory(roles=[Role.ADMIN])).get(LIST).status_code == 200
    # Not staff: Django admin sends them to its login page.
    assert _client(UserFactory(roles=[Role.AUDITOR])).get(LIST).status_code == 302


def test_admin_change_of_a_date_is_audited() -> None:
    admin = UserFactory(roles=[Role.ADMIN])
    release = OsRelease.objects.get(os_id="ubuntu", version="22.04")
    response = _client(admin).post(
        f"{LIST}{release.pk}/change/",
        {
            "label": release.label,
            "os_id": "ubuntu",
            "version": "22.04",
            "ostype": "",
            "end_of_life": "2027-04-30",
            "note": "set by the admin",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    release.refresh_from_db()
    assert release.end_of_life.isoformat() == "2027-04-30"
    event = AuditEvent.objects.get(action="inventory.os_release_changed")
    assert event.before["end_of_life"] is None
    assert event.after["end_of_life"] == "2027-04-30"


def test_a_row_with_both_keys_is_refused() -> None:
    admin = UserFactory(roles=[Role.ADMIN])
    response = _client(admin).post(
        f"{LIST}add/",
        {"label": "mixed", "os_id": "debian", "version": "13", "ostype": "l26"},
    )
    assert response.status_code == 200  # the form again, with the constraint's message
    assert "either by agent OS id and version or by ostype" in response.content.decode()
    assert not OsRelease.objects.filter(label="mixed").exists()
