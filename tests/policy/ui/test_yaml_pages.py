"""YAML export and import on the policy pages: download, upload with clear errors,
a preview of every changed policy, and a save of exactly what was previewed."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from policy.models import Policy

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(client: Client, text: str, comment: str = ""):
    upload = SimpleUploadedFile("policies.yaml", text.encode(), content_type="application/yaml")
    return client.post("/policy/import/", {"file": upload, "comment": comment, "action": "preview"})


def test_export_downloads_every_policy_as_yaml(people, records):
    response = _client(people.auditor).get("/policy/export.yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert "attachment;" in response["Content-Disposition"]
    data = yaml.safe_load(response.content)
    assert [p["name"] for p in data["policies"]] == ["pin-web"]
    assert data["policies"][0]["parameters"]["allowed_nodes"] == ["node1"]


def test_import_previews_changes_and_saves_them(people, records):
    officer = _client(people.security)
    exported = yaml.safe_load(officer.get("/policy/export.yaml").content)
    exported["policies"].append(
        {
            "name": "no-usb",
            "kind": "no_removable_media",
            "mode": "audit",
            "scope": {"clusters": ["pve-test"]},
        }
    )
    text = yaml.safe_dump(exported)
    preview = _upload(officer, text, comment="from git")
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "unchanged" in html
    assert "new" in html
    assert 'data-testid="dry-run"' in html
    assert "Save 1 changed policy" in html
    assert not Policy.objects.filter(name="no-usb").exists()
    token = re.search(r'name="preview_token" value="([^"]+)"', html).group(1)
    saved = officer.post(
        "/policy/import/",
        {"action": "save", "text": text, "comment": "from git", "preview_token": token},
    )
    assert saved.status_code == 302
    policy = Policy.objects.get(name="no-usb")
    assert policy.versions.get().comment == "from git"
    records.policy.refresh_from_db()
    assert records.policy.version == 1


def test_import_save_refuses_a_file_other_than_the_previewed_one(people, records):
    officer = _client(people.security)
    text = "policies:\n- {name: a, kind: identity_conflicts, scope: {clusters: [pve-test]}}\n"
    html = _upload(officer, text).content.decode()
    token = re.search(r'name="preview_token" value="([^"]+)"', html).group(1)
    other = text.replace("name: a", "name: b")
    answer = officer.post(
        "/policy/import/", {"action": "save", "text": other, "preview_token": token}
    )
    assert answer.status_code == 302
    assert answer["Location"] == "/policy/import/"
    assert not Policy.objects.filter(name__in=["a", "b"]).exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("policies: [\n  - name: x\n", "line"),
        ("- just a list\n", "&quot;policies&quot; list"),
        (
            "policies:\n- {name: a, kind: host_pinning, scope: {}, "
            "parameters: {allowed_nodes: [node1]}}\n",
            "scope",
        ),
        (
            "policies:\n- {name: a, kind: host_pinning, scope: {clusters: [pve-test]}, "
            "parameters: {allowed_nodes: [node7]}}\n",
            "node7",
        ),
        ("policies:\n- {name: a, kind: nope, scope: {clusters: [pve-test]}}\n", "nope"),
    ],
)
def test_import_errors_say_what_to_fix(people, records, text, message):
    answer = _upload(_client(people.security), text)
    assert answer.status_code == 400
    html = answer.content.decode()
    errors = html.split('data-testid="import-errors"')[1].split("</div>")[0]
    assert message in errors
    assert "The file was not imported" in errors
