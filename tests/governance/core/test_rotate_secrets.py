"""``manage.py rotate_secrets``: every secret at rest moves to the newest key, or nothing
changes when one cannot be decrypted."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from governance.audit.models import AuditEvent
from governance.core import crypto
from governance.core.secrets import encrypted_fields
from inventory.models import Cluster
from tests.inventory.estate import make_cluster

pytestmark = pytest.mark.django_db

OLD = "old-key-" + "o" * 40
NEW = "new-key-" + "n" * 40


def _stored(cluster: Cluster) -> str:
    """The column as the database holds it (ciphertext)."""
    table = connection.ops.quote_name(Cluster._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT token_secret FROM {table} WHERE id = %s", [cluster.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_every_encrypted_field_is_found() -> None:
    found = {(model._meta.label, name) for model, name in encrypted_fields()}
    assert {("inventory.Cluster", "token_secret"), ("accounts.TOTPDevice", "key")} <= found


def test_rotation_moves_secrets_to_the_newest_key_and_is_audited(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    first = make_cluster("pve-rot-a", token_secret="alpha-secret")
    second = make_cluster("pve-rot-b", token_secret="beta-secret")
    before = _stored(first)
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    call_command("rotate_secrets", "--dry-run")
    assert _stored(first) == before  # a dry run writes nothing
    assert not AuditEvent.objects.filter(action="core.secrets_rotated").exists()

    call_command("rotate_secrets")

    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    assert Cluster.objects.get(pk=first.pk).token_secret == "alpha-secret"
    assert Cluster.objects.get(pk=second.pk).token_secret == "beta-secret"
    assert _stored(first) != before
    event = AuditEvent.objects.get(action="core.secrets_rotated")
    assert event.after["rotated"]["inventory.Cluster.token_secret"] >= 2


def test_a_secret_no_key_decrypts_stops_the_run_naming_it(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    lost = make_cluster("pve-rot-lost", token_secret="lost-secret")
    kept = make_cluster("pve-rot-kept", token_secret="kept-secret")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    Cluster.objects.filter(pk=kept.pk).update(token_secret="kept-secret")  # now under NEW
    kept_before = _stored(kept)

    with pytest.raises(CommandError, match=rf"inventory\.Cluster\.token_secret: {lost.pk}\b"):
        call_command("rotate_secrets")

    assert _stored(kept) == kept_before  # nothing was rewritten
    with pytest.raises(crypto.SecretDecryptionError):
        crypto.decrypt(_stored(lost))
