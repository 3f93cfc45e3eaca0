"""Evidence labels, the preview token and the editor's document."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from policy.evidence import evidence_items
from policy.forms import PolicyForm, PolicyImportForm
from policy.preview import preview_matches, preview_token


def test_known_evidence_first_with_labels_then_the_rest():
    items = evidence_items(
        {"zeta": 1, "node": "node2", "config_line": "usb0: host=1:2", "flag": True, "x": ""}
    )
    assert [(i.label, i.value, i.code) for i in items] == [
        ("Config line", "usb0: host=1:2", True),
        ("Node", "node2", False),
        ("Flag", "yes", False),
        ("Zeta", "1", False),
    ]
    assert evidence_items(None) == []
    assert evidence_items({"allowed_nodes": ["a", "b"]})[0].value == "a, b"


def test_preview_token_binds_document_policy_and_version():
    document = {"name": "p", "scope": {"clusters": ["c"]}, "parameters": {"a": 1}}
    token = preview_token(document=document, policy_id=3, base_version=2)
    reordered = {"parameters": {"a": 1}, "scope": {"clusters": ["c"]}, "name": "p"}
    assert preview_matches(token, document=reordered, policy_id=3, base_version=2)
    renamed = {**document, "name": "q"}
    assert not preview_matches(token, document=renamed, policy_id=3, base_version=2)
    assert not preview_matches(token, document=document, policy_id=3, base_version=3)
    assert not preview_matches(token, document=document, policy_id=4, base_version=2)
    assert not preview_matches(token + "x", document=document, policy_id=3, base_version=2)
    assert not preview_matches("", document=document, policy_id=3, base_version=2)


def _form(**overrides) -> PolicyForm:
    data = {
        "name": " pin-web ",
        "kind": "host_pinning",
        "mode": "enforce",
        "enabled": "on",
        "scope_clusters": "pve-a, pve-b",
        "scope_tags": "",
        "scope_classifications": ["sensitive"],
        "scope_vms": "12, 13",
        "parameters": "allowed_nodes: [node1, node2]",
    }
    data.update(overrides)
    return PolicyForm(data)


def test_editor_builds_the_document_without_empty_scope_keys():
    form = _form()
    assert form.is_valid(), form.errors
    assert form.document() == {
        "name": "pin-web",
        "description": "",
        "kind": "host_pinning",
        "mode": "enforce",
        "enabled": True,
        "scope": {
            "clusters": ["pve-a", "pve-b"],
            "classifications": ["sensitive"],
            "vms": [12, 13],
        },
        "parameters": {"allowed_nodes": ["node1", "node2"]},
    }


def test_editor_says_what_is_wrong_with_parameters_and_vm_ids():
    form = _form(parameters="allowed_nodes: [node1", scope_vms="12, web")
    assert not form.is_valid()
    assert "Not valid YAML" in form.errors["parameters"][0]
    assert "line" in form.errors["parameters"][0]
    assert form.errors["scope_vms"] == ['"web" is not a VM id; give numbers like 42.']
    form = _form(parameters="- a\n- b")
    assert not form.is_valid()
    assert form.errors["parameters"] == ["Parameters must be a mapping of names to values."]


def test_import_form_refuses_binary_files():
    upload = SimpleUploadedFile("p.yaml", b"\xff\xfe\x00bad", content_type="text/yaml")
    form = PolicyImportForm({}, {"file": upload})
    assert not form.is_valid()
    assert form.errors["file"] == ["The file is not UTF-8 text."]
