"""Policy pages: the permission triple (allowed 200, not allowed 403, invisible 404) and
what each page shows its reader."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _get(user, url: str):
    return _client(user).get(url)


def test_violation_list_shows_each_reader_their_vms_only(people, records):
    mine = _get(people.alice, "/policy/violations/")
    assert mine.status_code == 200
    html = mine.content.decode()
    assert records.open.summary in html
    assert "carol&#x27;s secret violation" not in html
    assert "carol's secret" not in html
    officer = _get(people.security, "/policy/violations/").content.decode()
    assert records.open.summary in officer
    assert "secret violation" in officer
    assert "No violations" in _get(people.bob, "/policy/violations/").content.decode()


def test_violation_list_filters_and_rejects_bad_values(people, records):
    html = _get(people.security, "/policy/violations/?team=dev").content.decode()
    assert "secret violation" in html
    assert records.open.summary not in html
    resolved = _get(people.security, "/policy/violations/?state=resolved").content.decode()
    assert records.resolved.summary in resolved
    assert records.open.summary not in resolved
    assert _get(people.security, "/policy/violations/?state=bogus").status_code == 400


def test_violation_page_triple_and_evidence(people, records):
    url = f"/policy/violations/{records.open.pk}/"
    page = _get(people.alice, url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "node2" in html
    assert "Allowed nodes" in html
    assert "Migrate back to node1" in html
    assert _get(people.carol, url).status_code == 404
    assert _get(people.auditor, url).status_code == 200
    resolved = _get(people.alice, f"/policy/violations/{records.resolved.pk}/").content.decode()
    assert "<code>usb0: host=1234:5678</code>" in resolved


def test_remediation_run_shows_its_log_to_whoever_sees_the_vm(people, records):
    url = f"/policy/remediations/{records.run.pk}/"
    page = _get(people.alice, url)
    assert page.status_code == 200
    assert "migration finished" in page.content.decode()
    assert records.run.upid in page.content.decode()
    assert _get(people.carol, url).status_code == 404
    status = _get(people.alice, f"{url}status/")
    assert status.status_code == 200
    assert 'id="run-status"' in status.content.decode()
    assert _get(people.carol, f"{url}status/").status_code == 404
    listing = _get(people.alice, "/policy/remediations/").content.decode()
    assert "Migrate back to node1" in listing
    assert (
        "Migrate back to node1" not in _get(people.carol, "/policy/remediations/").content.decode()
    )
    assert _get(people.alice, "/policy/remediations/?state=bogus").status_code == 400


def test_quarantines_and_exemptions_follow_the_vm(people, records):
    assert "off for 120 days" in _get(people.alice, "/policy/quarantines/").content.decode()
    assert "off for 120 days" not in _get(people.carol, "/policy/quarantines/").content.decode()
    assert "licence dongle" in _get(people.alice, "/policy/exemptions/").content.decode()
    assert "licence dongle" not in _get(people.bob, "/policy/exemptions/").content.decode()


def test_vm_page_shows_violations_evidence_runs_and_quarantine(people, records, estate):
    page = _get(people.alice, f"/inventory/vms/{estate['web'].pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="policy-section"' in html
    assert "Quarantined since" in html
    assert records.open.summary in html
    assert records.resolved.summary in html
    assert f"/policy/remediations/{records.run.pk}/" in html
    assert "usb0: host=1234:5678" in html
    section = _get(people.alice, f"/policy/vms/{estate['web'].pk}/section/")
    assert section.status_code == 200
    assert records.open.summary in section.content.decode()
    assert _get(people.carol, f"/policy/vms/{estate['web'].pk}/section/").status_code == 404
    # A VM no policy found anything on says so.
    other = _get(people.carol, f"/inventory/vms/{estate['old'].pk}/").content.decode()
    assert "secret violation" in other


@pytest.mark.parametrize(
    ("url", "allowed", "forbidden", "invisible"),
    [
        ("/policy/", ["security", "auditor", "admin"], ["alice", "manager"], []),
        ("/policy/new/", ["security", "admin"], ["auditor", "alice"], []),
        ("/policy/export.yaml", ["security", "auditor"], ["alice"], []),
        ("/policy/import/", ["security", "admin"], ["auditor", "alice"], []),
        ("/policy/{pk}/", ["security", "auditor"], [], ["alice", "manager"]),
        ("/policy/{pk}/edit/", ["security", "admin"], ["auditor"], ["alice"]),
        ("/policy/{pk}/versions/1/", ["auditor"], [], ["alice"]),
    ],
)
def test_policy_pages_permission_triple(people, records, url, allowed, forbidden, invisible):
    url = url.format(pk=records.policy.pk)
    for name in allowed:
        assert _get(getattr(people, name), url).status_code == 200, (name, url)
    for name in forbidden:
        assert _get(getattr(people, name), url).status_code == 403, (name, url)
    for name in invisible:
        assert _get(getattr(people, name), url).status_code == 404, (name, url)


def test_policy_page_shows_version_history(people, records):
    html = _get(people.auditor, f"/policy/{records.policy.pk}/").content.decode()
    assert "Version history" in html
    assert "v1" in html
    assert "first" in html
    assert "Edit" not in html.split("Version history")[0].split("</h1>")[1][:400]
    version = _get(people.auditor, f"/policy/{records.policy.pk}/versions/1/").content.decode()
    assert "host_pinning" in version
    assert _get(people.auditor, f"/policy/{records.policy.pk}/versions/9/").status_code == 404
