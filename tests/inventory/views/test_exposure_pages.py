"""The exposure report page and its CSV export: who may open it for which node, what it
shows, how it refuses a bad window, and that an export is audited."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from governance.accounts.roles import Role
from governance.audit.models import AuditEvent
from governance.ownership.models import Ownership
from inventory.models import Copy, Node, Residency, VirtualMachine
from tests.factories import UserFactory
from tests.inventory.estate import make_cluster, vm_row

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def make_site() -> dict:
    """Two nodes; on host1 a guest with a formula for a name and an owned guest with an
    export to removable storage (and a snapshot older than any default window)."""
    cluster = make_cluster("expo-page")
    host = Node.objects.create(cluster=cluster, name="host1", first_seen=NOW, last_seen=NOW)
    other = Node.objects.create(cluster=cluster, name="host2", first_seen=NOW, last_seen=NOW)
    owner = UserFactory(roles=[Role.END_USER])
    guests = {}
    for vmid, name in ((100, "=cmd|calc"), (101, "payroll"), (102, "elsewhere")):
        guests[name] = vm_row(cluster, None, vmid, now=NOW, name=name)
        guests[name].save()
    for name in ("=cmd|calc", "payroll"):
        Residency.objects.create(
            vm=guests[name], node=host, started_at=NOW - timedelta(days=3), cause="start"
        )
    Residency.objects.create(
        vm=guests["elsewhere"], node=other, started_at=NOW - timedelta(days=3), cause="start"
    )
    Copy.objects.create(
        vm=guests["payroll"],
        cluster=cluster,
        source_vmid=101,
        kind="export",
        name="payroll-export.vma",
        storage_name="usb-disk",
        storage_class="removable",
        created_at=NOW - timedelta(days=1),
    )
    Copy.objects.create(
        vm=guests["payroll"],
        cluster=cluster,
        source_vmid=101,
        kind="snapshot",
        name="too-old",
        created_at=NOW - timedelta(days=60),
    )
    Ownership.objects.create(vm=guests["payroll"], owner=owner, since=NOW, source="admin")
    return {"cluster": cluster, "host": host, "other": other, "owner": owner, **guests}


@pytest.fixture
def site():
    return make_site()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(path: str = "/inventory/exposure/", **params) -> str:
    return f"{path}?{urlencode(params)}"


def _report(site, **params) -> str:
    return _url(cluster=site["cluster"].name, node="host1", **params)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SECURITY_OFFICER, Role.AUDITOR])
def test_readers_reach_the_report_from_the_node_list(site, role):
    client = _client(UserFactory(roles=[role]))
    nodes = client.get("/inventory/nodes/").content.decode()
    assert _report(site).replace("&", "&amp;") in nodes
    page = client.get(_report(site))
    assert page.status_code == 200
    html = page.content.decode()
    assert "payroll" in html
    assert "elsewhere" not in html
    assert "payroll-export.vma" in html
    assert "too-old" not in html  # made before the default window (30 days) began
    assert 'class="exposure-risky"' in html
    assert "<strong>2</strong> guests ran here" in html
    assert 'class="exposure-risky-count">1</strong> on removable or external' in html
    assert site["owner"].username in html


def test_end_user_sees_only_own_guests_and_not_foreign_nodes(site):
    client = _client(site["owner"])
    html = client.get(_report(site)).content.decode()
    assert "payroll" in html
    assert "calc" not in html
    assert "<strong>1</strong> guest ran here" in html
    # host2 never held a guest of theirs: it does not exist for them, nor does a made-up one.
    assert client.get(_url(cluster=site["cluster"].name, node="host2")).status_code == 404
    assert client.get(_url(cluster="nope", node="host1")).status_code == 404
    stranger = _client(UserFactory(roles=[Role.END_USER]))
    assert stranger.get(_report(site)).status_code == 404
    assert stranger.get("/inventory/exposure/").status_code == 200


def test_anonymous_is_sent_to_sign_in(client, site):
    for path in ("/inventory/exposure/", "/inventory/exposure.csv"):
        response = client.get(_url(path, cluster=site["cluster"].name, node="host1"))
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    response = client.post("/inventory/exposure.csv", _params(site))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert not AuditEvent.objects.filter(action="inventory.exposure_exported").exists()


@pytest.mark.parametrize(
    ("since", "until", "field", "message"),
    [
        (NOW - timedelta(days=1), NOW - timedelta(days=2), "since", "must start before it ends"),
        (NOW - timedelta(days=1), NOW + timedelta(days=1), "until", "cannot end in the future"),
        (NOW - timedelta(days=800), NOW, "since", "at most two years"),
    ],
)
def test_a_bad_window_is_refused_inline(site, since, until, field, message):
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    response = client.get(_report(site, since=_local(since), until=_local(until)))
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    assert message in html
    assert "payroll" not in html
    assert (
        client.post("/inventory/exposure.csv", {**_params(site), "since": "x"}).status_code == 400
    )


def test_unreadable_date_and_a_node_of_another_cluster_are_field_errors(site):
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    response = client.get(_report(site, since="yesterday"))
    assert response.status_code == 400
    assert 'id="id_since_error"' in response.content.decode()
    other = make_cluster("expo-other")
    Node.objects.create(cluster=other, name="host9", first_seen=NOW, last_seen=NOW)
    response = client.get(_url(cluster="expo-other", node="host1"))
    assert response.status_code == 400
    assert "host1 is not a node of expo-other" in response.content.decode()


def test_sorted_and_paginated_in_constant_queries(site, django_assert_max_num_queries):
    cluster, host = site["cluster"], site["host"]
    extra = VirtualMachine.objects.bulk_create(
        [vm_row(cluster, None, 500 + i, now=NOW, name=f"bulk-{i:02}") for i in range(40)]
    )
    Residency.objects.bulk_create(
        Residency(vm=vm, node=host, started_at=NOW - timedelta(days=1), cause="start")
        for vm in extra
    )
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    client.get(_report(site))  # sessions, roles and content types warmed
    with django_assert_max_num_queries(16):
        html = client.get(_report(site, sort="-vmid")).content.decode()
    assert html.index("bulk-39") < html.index("bulk-38")
    assert "payroll" not in html  # vmid 101 falls on the second page
    second = client.get(_report(site, sort="-vmid", page="2")).content.decode()
    assert "payroll" in second
    assert "1\N{EN DASH}25 of 42" in html


def test_csv_export_is_complete_neutralised_and_audited(site):
    auditor = UserFactory(roles=[Role.AUDITOR])
    response = _client(auditor).post("/inventory/exposure.csv", _params(site))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "exposure-expo-page-host1-" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    records = {(r["name"], r["record"], r["copy_name"]) for r in rows}
    assert records == {
        ("'=cmd|calc", "stay", ""),
        ("payroll", "stay", ""),
        ("payroll", "copy", "payroll-export.vma"),
    }
    [export] = [r for r in rows if r["record"] == "copy"]
    assert (export["removable_or_external"], export["storage"]) == ("yes", "usb-disk")
    assert export["owner"] == site["owner"].username
    event = AuditEvent.objects.get(action="inventory.exposure_exported")
    assert event.actor == auditor
    assert event.target_id == str(site["host"].pk)
    assert (event.after["guests"], event.after["copies"]) == (2, 1)
    assert event.after["removable_or_external"] == 1


def test_csv_of_an_end_user_holds_only_their_guests(site):
    response = _client(site["owner"]).post("/inventory/exposure.csv", _params(site))
    body = b"".join(response.streaming_content).decode()
    assert "payroll" in body
    assert "calc" not in body
    assert _client(UserFactory()).post("/inventory/exposure.csv", _params(site)).status_code == 404
    assert AuditEvent.objects.filter(action="inventory.exposure_exported").count() == 1


def _params(site) -> dict:
    return {"cluster": site["cluster"].name, "node": "host1"}


def test_viewing_is_not_audited(site):
    client = _client(UserFactory(roles=[Role.AUDITOR]))  # signing in is audited
    before = AuditEvent.objects.count()
    assert client.get(_report(site)).status_code == 200
    assert AuditEvent.objects.count() == before


def test_the_report_page_exports_by_a_post_carrying_the_window_shown(site):
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    since, until = _local(NOW - timedelta(days=5)), _local(NOW)
    html = client.get(_report(site, since=since, until=until)).content.decode()
    assert '<form method="post" action="/inventory/exposure.csv"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    for key, value in (("cluster", "expo-page"), ("node", "host1"), ("since", since)):
        assert f'<input type="hidden" name="{key}" value="{value}">' in html
    assert 'href="/inventory/exposure.csv' not in html


def test_a_get_of_the_export_writes_nothing_and_leads_to_the_report(site):
    client = _client(UserFactory(roles=[Role.AUDITOR]))
    response = client.get(_url("/inventory/exposure.csv", **_params(site), since="x"))
    assert response.status_code == 302
    assert response["Location"] == _url(**_params(site), since="x")
    assert client.put("/inventory/exposure.csv", _params(site)).status_code == 405
    assert not AuditEvent.objects.filter(action="inventory.exposure_exported").exists()


def test_a_cross_site_export_without_a_token_is_refused_and_writes_nothing(site):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(roles=[Role.AUDITOR]))
    before = AuditEvent.objects.count()
    response = client.post("/inventory/exposure.csv", _params(site))
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before
    # The same client with the page's token exports, so the refusal is the token's doing.
    page = client.get(_report(site))
    token = page.context["csrf_token"]
    response = client.post(
        "/inventory/exposure.csv", {**_params(site), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="inventory.exposure_exported").count() == 1


def test_a_bare_visit_shows_the_form_without_errors(client: Client) -> None:
    client.force_login(UserFactory(roles=[Role.AUDITOR]))
    response = client.get("/inventory/exposure/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-invalid="true"' not in html
    assert "This field is required" not in html
