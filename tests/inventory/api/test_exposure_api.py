"""The exposure report over the API: same question, same answer and same permissions as
the page, keyset pages of guests, one error shape for a bad question."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from governance.accounts.roles import Role
from inventory.models import Residency, VirtualMachine
from tests.factories import UserFactory
from tests.inventory.estate import vm_row
from tests.inventory.views.test_exposure_pages import make_site

pytestmark = pytest.mark.django_db

URL = "/api/inventory/exposure/"


@pytest.fixture
def site():
    return make_site()


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_auditor_gets_guests_stays_copies_and_summary(site):
    response = _api(UserFactory(roles=[Role.AUDITOR])).get(
        URL, {"cluster": "expo-page", "node": "host1"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["cluster"], body["node"]) == ("expo-page", "host1")
    assert body["summary"] == {"guests": 2, "copies": 1, "removable_or_external": 1}
    by_name = {guest["name"]: guest for guest in body["results"]}
    assert set(by_name) == {"=cmd|calc", "payroll"}
    payroll = by_name["payroll"]
    assert payroll["owner"] == site["owner"].username
    assert [s["node"] for s in payroll["stays"]] == ["host1"]
    assert payroll["stays"][0]["ended_at"] is None
    [export] = payroll["copies"]
    assert (export["name"], export["removable_or_external"]) == ("payroll-export.vma", True)
    assert export["storage_name"] == "usb-disk"


def test_end_user_sees_own_guests_and_404_elsewhere(site):
    owner = _api(site["owner"])
    body = owner.get(URL, {"cluster": "expo-page", "node": "host1"}).json()
    assert [g["name"] for g in body["results"]] == ["payroll"]
    assert body["summary"]["guests"] == 1
    response = owner.get(URL, {"cluster": "expo-page", "node": "host2"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    stranger = _api(UserFactory(roles=[Role.END_USER]))
    assert stranger.get(URL, {"cluster": "expo-page", "node": "host1"}).status_code == 404


def test_anonymous_is_refused(site):
    response = APIClient().get(URL, {"cluster": "expo-page", "node": "host1"})
    assert response.status_code in (401, 403)
    assert "results" not in response.json()


def test_a_bad_window_is_a_validation_error(site):
    client = _api(UserFactory(roles=[Role.AUDITOR]))
    now = timezone.now()
    response = client.get(
        URL,
        {
            "cluster": "expo-page",
            "node": "host1",
            "since": now.isoformat(),
            "until": (now - timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "must start before it ends" in error["fields"]["since"][0]
    missing = client.get(URL, {"cluster": "expo-page"})
    assert missing.status_code == 400
    assert "node" in missing.json()["error"]["fields"]


def test_keyset_pages_cover_every_guest_once(site, django_assert_max_num_queries):
    extra = VirtualMachine.objects.bulk_create(
        [vm_row(site["cluster"], None, 700 + i, now=timezone.now()) for i in range(30)]
    )
    Residency.objects.bulk_create(
        Residency(vm=vm, node=site["host"], started_at=timezone.now(), cause="start")
        for vm in extra
    )
    client = _api(UserFactory(roles=[Role.AUDITOR]))
    client.get(URL, {"cluster": "expo-page", "node": "host1", "page_size": 1})
    seen, url = [], f"{URL}?cluster=expo-page&node=host1&page_size=10"
    while url:
        with django_assert_max_num_queries(8):
            body = client.get(url).json()
        seen += [guest["id"] for guest in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 32
    assert seen == sorted(seen)


def test_schema_documents_the_report_and_its_errors(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    operation = yaml.safe_load(out.read_text())["paths"][URL]["get"]
    assert {"200", "400", "404"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} >= {"cluster", "node", "since", "until"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ExposureReport"
    )
