"""Registering clusters (service, form page and command) against simulated clusters."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from governance.accounts.roles import Role
from governance.audit.models import AuditEvent
from inventory.models import Cluster
from inventory.services.clusters import (
    ClusterConnectionFailed,
    cluster_disable,
    cluster_register,
    cluster_update,
)
from tests.factories import UserFactory
from tests.inventory.conftest import fingerprint_of_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr("inventory.services.clusters._queue_sync", calls.append)
    return calls


def _settings(sim, **overrides):
    values = {
        "name": sim.name,
        "url": sim.url,
        "token_id": sim.token_id,
        "token_secret": sim.token_secret,
        "fingerprint": fingerprint_of_file(sim.cert_file),
    }
    values.update(overrides)
    return values


def test_register_saves_encrypted_audits_without_secret_and_queues_sync(
    sim, queued, django_capture_on_commit_callbacks
):
    admin = UserFactory(roles=[Role.ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        registration = cluster_register(actor=admin, **_settings(sim))

    cluster = Cluster.objects.get(name=sim.name)
    assert cluster.token_secret == sim.token_secret
    assert cluster.pve_version.startswith("9.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_secret FROM inventory_cluster WHERE id = %s", [cluster.pk])
        assert sim.token_secret not in cursor.fetchone()[0]
    event = AuditEvent.objects.get(action="inventory.cluster.register")
    assert sim.token_secret not in repr((event.before, event.after))
    assert event.after["trust"] == "fingerprint"
    assert queued == [cluster.pk]
    assert registration.warnings == []


def test_register_refuses_a_bad_token_and_saves_nothing(sim, queued):
    with pytest.raises(ClusterConnectionFailed) as failure:
        cluster_register(actor=None, **_settings(sim, token_secret="wrong"))
    assert failure.value.report.problem == "bad_token"
    assert not Cluster.objects.exists()
    assert queued == []


def test_register_saves_with_a_warning_when_privileges_are_missing(sim, queued):
    sim.revoke_token_rights()
    registration = cluster_register(actor=None, **_settings(sim))
    assert registration.cluster.pk
    assert "lacks privileges" in registration.warnings[0]


def test_register_refuses_a_taken_name(sim, queued):
    cluster_register(actor=None, **_settings(sim))
    with pytest.raises(ValidationError) as error:
        cluster_register(actor=None, **_settings(sim))
    assert "registered already" in str(error.value)


def test_update_keeps_the_secret_when_empty_and_disable_is_audited(sim, queued):
    cluster = cluster_register(actor=None, **_settings(sim)).cluster
    settings = _settings(sim)
    del settings["name"]
    settings["token_secret"] = ""
    updated = cluster_update(actor=None, cluster=cluster, **settings).cluster
    assert updated.token_secret == sim.token_secret
    cluster_disable(actor=None, cluster=updated)
    assert not Cluster.objects.get().enabled
    actions = list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))
    assert actions[-2:] == ["inventory.cluster.update", "inventory.cluster.disable"]


def test_register_page_shows_the_report_and_saves(sim, queued):
    client = Client()
    client.force_login(UserFactory(roles=[Role.ADMIN]))
    form = {**_settings(sim), "trust": "fingerprint"}
    tested = client.post("/inventory/clusters/new/", {**form, "action": "test"})
    assert tested.status_code == 200
    body = tested.content.decode()
    assert "Connection report" in body
    assert "every privilege sync needs is granted" in body
    assert not Cluster.objects.exists()

    saved = client.post("/inventory/clusters/new/", {**form, "action": "register"})
    assert saved.status_code == 302
    assert saved["Location"] == f"/inventory/clusters/{sim.name}/"
    assert Cluster.objects.filter(name=sim.name).exists()


def test_register_page_explains_a_fingerprint_mismatch(sim, queued):
    client = Client()
    client.force_login(UserFactory(roles=[Role.ADMIN]))
    form = {**_settings(sim, fingerprint="cd" * 32), "trust": "fingerprint"}
    response = client.post("/inventory/clusters/new/", form)
    assert response.status_code == 400
    assert "does not match the pinned fingerprint" in response.content.decode()
    assert not Cluster.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "http://example.org"}, "must be https"),
        ({"token_id": "no-realm"}, "user@realm!tokenname"),
        ({"fingerprint": "xyz"}, "SHA-256 fingerprint"),
        ({"trust": "ca_bundle", "ca_bundle": "not a pem"}, "PEM form"),
    ],
)
def test_register_form_messages(change, message):
    client = Client()
    client.force_login(UserFactory(roles=[Role.ADMIN]))
    form = {
        "name": "c1",
        "url": "https://127.0.0.1:8006",
        "token_id": "a@pve!b",
        "token_secret": "s",
        "trust": "fingerprint",
        "fingerprint": "ab" * 32,
    }
    response = client.post("/inventory/clusters/new/", {**form, **change})
    assert response.status_code == 400
    assert message in response.content.decode()


def _cluster_add(sim, *trust: str, secret: str | None = None) -> None:
    """``manage.py cluster_add`` for ``sim`` trusted by ``trust`` (the fingerprint if
    none), with ``secret`` in place of the token's own when given."""
    settings = _settings(sim)
    call_command(
        "cluster_add",
        settings["name"],
        "--url",
        settings["url"],
        "--token-id",
        settings["token_id"],
        "--token-secret",
        secret or settings["token_secret"],
        *(trust or ("--fingerprint", settings["fingerprint"])),
    )


def test_cluster_add_command_prints_the_report(sim, queued, capsys):
    _cluster_add(sim)
    out = capsys.readouterr().out
    assert "Proxmox VE 9." in out
    assert "Registered pve-" in out


def test_cluster_add_command_fails_with_the_reason(sim, queued, capsys):
    with pytest.raises(CommandError, match="nothing was saved"):
        _cluster_add(sim, "--ca-bundle", str(sim.cert_file), secret="wrong")
    assert "token was refused" in capsys.readouterr().err
    assert not Cluster.objects.exists()
