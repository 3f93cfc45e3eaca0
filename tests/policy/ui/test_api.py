"""The policy API: permission triple, the mandatory dry run before a save, versions,
filters, and the one error shape for refusals."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from policy.models import Policy

pytestmark = pytest.mark.django_db

DOCUMENT = {
    "name": "pin-api",
    "kind": "host_pinning",
    "mode": "audit",
    "scope": {"clusters": ["pve-test"]},
    "parameters": {"allowed_nodes": ["node1"]},
}


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _dry_run(client: APIClient, document: dict, policy: int | None = None):
    return client.post(
        "/api/policy/dry-run/", {"document": document, "policy": policy}, format="json"
    )


def test_dry_run_then_create_and_versions(people, records):
    officer = _api(people.security)
    preview = _dry_run(officer, DOCUMENT)
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["in_scope"] == 3
    assert body["would_remediate"] is False
    assert {vm["vmid"] for vm in body["vms"]} == {101, 9000}
    assert "carol" in body["notify"]
    assert body["remediations"][0]["kind"] == "migrate"
    assert not Policy.objects.filter(name="pin-api").exists()

    created = officer.post(
        "/api/policy/policies/",
        {**DOCUMENT, "comment": "via API", "preview_token": body["preview_token"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["version"] == 1

    change = {**DOCUMENT, "mode": "enforce"}
    token = _dry_run(officer, change, policy=pk).json()["preview_token"]
    updated = officer.put(
        f"/api/policy/policies/{pk}/", {**change, "preview_token": token}, format="json"
    )
    assert updated.status_code == 200, updated.content
    assert updated.json()["version"] == 2
    versions = officer.get(f"/api/policy/policies/{pk}/versions/").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["document"]["mode"] == "audit"
    # PATCH changes one key of the stored document; the dry run covers the result.
    stored = officer.get(f"/api/policy/policies/{pk}/").json()
    keys = ("name", "description", "kind", "mode", "enabled", "scope", "parameters")
    patched_doc = {**{key: stored[key] for key in keys}, "enabled": False}
    token = _dry_run(officer, patched_doc, policy=pk).json()["preview_token"]
    patched = officer.patch(
        f"/api/policy/policies/{pk}/", {"enabled": False, "preview_token": token}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["enabled"] is False
    assert patched.json()["version"] == 3


def test_save_without_matching_dry_run_is_refused(people, records):
    officer = _api(people.security)
    token = _dry_run(officer, DOCUMENT).json()["preview_token"]
    for payload in (
        {**DOCUMENT, "preview_token": "forged"},
        {**DOCUMENT, "mode": "enforce", "preview_token": token},
    ):
        answer = officer.post("/api/policy/policies/", payload, format="json")
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "validation_error"
        assert "dry-run" in error["fields"]["preview_token"][0]
    assert not Policy.objects.filter(name="pin-api").exists()


def test_refused_documents_say_what_to_fix(people, records):
    officer = _api(people.security)
    answer = _dry_run(officer, {**DOCUMENT, "parameters": {"allowed_nodes": ["node9"]}})
    assert answer.status_code == 400
    assert "node9" in str(answer.json()["error"]["fields"])
    answer = _dry_run(officer, {**DOCUMENT, "scope": {}})
    assert answer.status_code == 400
    assert "scope" in str(answer.json()["error"]).lower()


def test_policy_permission_triple(people, records):
    pk = records.policy.pk
    assert _api(people.auditor).get(f"/api/policy/policies/{pk}/").status_code == 200
    assert _api(people.auditor).get("/api/policy/policies/").json()["results"][0]["id"] == pk
    assert _api(people.alice).get(f"/api/policy/policies/{pk}/").status_code == 404
    assert _api(people.alice).get("/api/policy/policies/").json()["results"] == []
    # Auditors read but may not write or preview a change.
    assert _dry_run(_api(people.auditor), DOCUMENT).status_code == 403
    assert _dry_run(_api(people.auditor), DOCUMENT, policy=pk).status_code == 403
    assert (
        _api(people.auditor)
        .put(f"/api/policy/policies/{pk}/", {**DOCUMENT, "preview_token": "x"}, format="json")
        .status_code
        == 403
    )
    assert _dry_run(_api(people.alice), DOCUMENT, policy=pk).status_code == 404
    assert _api(people.security).delete(f"/api/policy/policies/{pk}/").status_code == 405


def test_violations_runs_quarantines_exemptions_follow_the_vm(people, records):
    alice, carol, auditor = _api(people.alice), _api(people.carol), _api(people.auditor)
    mine = alice.get("/api/policy/violations/?state=all").json()["results"]
    assert {v["id"] for v in mine} == {records.open.pk, records.resolved.pk}
    assert auditor.get("/api/policy/violations/?team=dev").json()["results"][0]["id"] == (
        records.hidden.pk
    )
    bad = auditor.get("/api/policy/violations/?state=bogus")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "validation_error"
    detail = alice.get(f"/api/policy/violations/{records.open.pk}/").json()
    assert detail["evidence"]["node"] == "node2"
    assert detail["remediations"][0]["log"].endswith("migration finished")
    assert carol.get(f"/api/policy/violations/{records.open.pk}/").status_code == 404
    assert alice.get(f"/api/policy/remediations/{records.run.pk}/").status_code == 200
    assert carol.get(f"/api/policy/remediations/{records.run.pk}/").status_code == 404
    assert [q["id"] for q in alice.get("/api/policy/quarantines/").json()["results"]] == [
        records.quarantine.pk
    ]
    assert carol.get("/api/policy/quarantines/").json()["results"] == []
    assert [e["id"] for e in alice.get("/api/policy/exemptions/").json()["results"]] == [
        records.exemption.pk
    ]
    assert carol.get(f"/api/policy/quarantines/{records.quarantine.pk}/").status_code == 404
