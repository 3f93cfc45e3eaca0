"""The OS diversity report (page, CSV, API), the VM list's os/eol filters and the VM page.

Permission triple: a Steward role -> 200 (what it counts follows ``restrict``), no role
-> 403; guests a user may not see are neither counted nor listed.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from governance.accounts.models import TeamMembership
from governance.accounts.roles import Role
from inventory.models import GuestOsInfo
from tests.factories import TeamFactory, UserFactory
from tests.inventory.os_estate import make_os_estate

pytestmark = pytest.mark.django_db
PAGE, API = "/inventory/os-diversity/", "/api/inventory/os-diversity/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def site():
    ops, dev = TeamFactory(name="Diversity Ops"), TeamFactory(name="Diversity Dev")
    manager = UserFactory(username="div-manager", roles=[Role.MANAGER])
    TeamMembership.objects.create(team=ops, user=manager, is_manager=True)
    vms = make_os_estate("pve-diversity", teams={"deb10": ops, "win7cfg": ops, "deb12": dev})
    return {"vms": vms, "manager": manager, "ops": ops, "dev": dev}


def test_auditor_sees_every_os_with_end_of_life_first(site) -> None:
    data = _client(UserFactory(roles=[Role.AUDITOR])).get(API).json()
    assert data["total"] == 7
    assert data["eol_total"] == 2
    first_two = {g["key"] for g in data["groups"][:2]}
    assert first_two == {"debian:10", "ostype:win7"}
    assert all(g["eol"] for g in data["groups"][:2])
    assert not any(g["eol"] for g in data["groups"][2:])
    by_key = {g["key"]: g for g in data["groups"]}
    assert by_key["debian:10"]["teams"] == {"Diversity Ops": 1}
    assert by_key["debian:12"]["release"] == "Debian 12 (bookworm)"
    assert by_key["rocky:9.5"]["release"] == "Rocky Linux 9"
    assert by_key["mswindows:2022"]["eol"] is False  # the agent wins over ostype w2k8
    assert by_key["ostype:debian"]["family"] == "debian (container)"


def test_manager_counts_only_their_teams_guests(site) -> None:
    data = _client(site["manager"]).get(API).json()
    assert data["total"] == 2
    assert {g["key"] for g in data["groups"]} == {"debian:10", "ostype:win7"}
    assert data["teams"] == ["Diversity Ops"]


def test_end_user_counts_only_their_own_guests(site) -> None:
    data = _client(UserFactory(roles=[Role.END_USER])).get(API).json()
    assert (data["total"], data["groups"]) == (0, [])


def test_no_role_is_refused(site) -> None:
    client = _client(UserFactory())
    assert client.get(PAGE).status_code == 403
    assert client.get(API).status_code == 403
    assert Client().get(API).status_code in (401, 403)


def test_page_highlights_eol_and_links_to_the_filtered_list(site) -> None:
    client = _client(UserFactory(roles=[Role.SECURITY_OFFICER]))
    html = client.get(PAGE).content.decode()
    assert 'class="row--eol" data-os="debian:10"' in html
    assert 'data-os="debian:12"' in html
    assert 'class="row--eol" data-os="debian:12"' not in html
    assert "/inventory/vms/?os=debian%3A10" in html
    listed = client.get("/inventory/vms/?os=debian%3A10").content.decode()
    assert site["vms"]["deb10"].name in listed
    assert site["vms"]["deb12"].name not in listed


def test_eol_filter_on_the_list_page_and_api(site) -> None:
    client = _client(UserFactory(roles=[Role.ADMIN]))
    vms = site["vms"]
    html = client.get("/inventory/vms/?eol=yes").content.decode()
    assert vms["deb10"].name in html
    assert vms["win7cfg"].name in html
    assert vms["deb12"].name not in html
    names = {r["name"] for r in client.get("/api/inventory/vms/?eol=no").json()["results"]}
    assert vms["deb12"].name in names
    assert vms["deb10"].name not in names
    assert client.get("/api/inventory/vms/?os=nonsense").status_code == 400


def test_csv_export_has_one_column_per_team(site) -> None:
    response = _client(UserFactory(roles=[Role.AUDITOR])).get(PAGE, {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    assert header[-3:] == ["Diversity Dev", "Diversity Ops", "(no team)"]
    debian10 = next(r for r in rows[1:] if r[:2] == ["Debian", "10"])
    assert debian10[5:7] == ["yes", "1"]
    assert debian10[-2] == "1"


def test_vm_page_and_api_show_the_os_and_its_end(site) -> None:
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    vm = site["vms"]["deb10"]
    html = client.get(f"/inventory/vms/{vm.pk}/").content.decode()
    assert "Debian 10 (buster)" in html
    assert "end of life" in html
    os_ = client.get(f"/api/inventory/vms/{vm.pk}/").json()["os"]
    assert (os_["os_id"], os_["version_id"], os_["eol"]) == ("debian", "10", True)
    assert os_["end_of_life"] == "2024-06-30"
    hidden = _client(site["manager"]).get(f"/api/inventory/vms/{site['vms']['deb12'].pk}/")
    assert hidden.status_code == 404


def test_report_costs_the_same_queries_whatever_the_estate(site, django_assert_num_queries) -> None:
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    with CaptureQueriesContext(connection) as small:
        client.get(API)
    make_os_estate("pve-diversity-more")
    with django_assert_num_queries(len(small.captured_queries)):
        assert client.get(API).json()["total"] == 14


def test_csv_cells_a_guest_chose_are_never_formulas(site) -> None:
    # The OS name is what the guest's agent says: whoever runs the guest chooses it.
    GuestOsInfo.objects.filter(vm=site["vms"]["deb12"]).update(name='=HYPERLINK("x")')
    response = _client(UserFactory(roles=[Role.AUDITOR])).get(PAGE, {"format": "csv"})
    cells = [cell for row in csv.reader(io.StringIO(response.content.decode())) for cell in row]
    assert '\'=HYPERLINK("x")' in cells
    assert not any(cell.startswith("=") for cell in cells)
