"""Re-encrypting every secret at rest under the newest ``FIELD_ENCRYPTION_KEYS`` key.

Rotation (``governance.core.crypto``): prepend a new key, restart, run
``manage.py rotate_secrets``, then drop the old key. This walks every
``EncryptedTextField`` of every installed model, so a secret a later feature adds is
rotated without anyone remembering to list it.

Nothing is written unless every stored secret can be decrypted first: a run that would
leave some rows under a key about to be dropped stops and names them instead. Rows are
rewritten in batches, each batch locked while it is read and written, so a secret saved
by the portal meanwhile is never overwritten with an older value; the run is audited as
one event with the counts per field.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from governance.audit.services import audit_record
from governance.core import crypto
from governance.core.fields import EncryptedTextField

BATCH = 500


class UndecryptableSecretsError(Exception):
    """Some stored secrets cannot be decrypted with the configured keys."""


def encrypted_fields() -> Iterator[tuple[type[models.Model], str]]:
    """Every (model, field name) holding secrets encrypted at rest."""
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field.name


def _label(model: type[models.Model], field: str) -> str:
    return f"{model._meta.label}.{field}"


def _ciphertexts(queryset: models.QuerySet, field: str) -> models.QuerySet:
    """``(pk, stored ciphertext)`` rows: cast to plain text, so nothing decrypts them."""
    return (
        queryset.exclude(**{f"{field}__isnull": True})
        .annotate(_stored=Cast(field, models.TextField()))
        .exclude(_stored="")
        .order_by("pk")
        .values_list("pk", "_stored")
    )


def secrets_check() -> dict[str, list[object]]:
    """The primary keys of stored secrets no configured key decrypts, per field."""
    broken: dict[str, list[object]] = {}
    for model, field in encrypted_fields():
        for pk, token in _ciphertexts(model._default_manager.all(), field).iterator():
            try:
                crypto.decrypt(token)
            except crypto.SecretDecryptionError:
                broken.setdefault(_label(model, field), []).append(pk)
    return broken


def secrets_rotate(*, actor: object = None, dry_run: bool = False) -> dict[str, int]:
    """Re-encrypt every stored secret under the newest key; the count per field."""
    if broken := secrets_check():
        named = "; ".join(
            f"{label}: {', '.join(map(str, pks[:10]))}" for label, pks in broken.items()
        )
        raise UndecryptableSecretsError(
            "These stored secrets cannot be decrypted with FIELD_ENCRYPTION_KEYS (primary keys): "
            f"{named}. Add back the key they were encrypted with; nothing was changed."
        )
    counts: dict[str, int] = {}
    with transaction.atomic():
        for model, field in encrypted_fields():
            manager = model._default_manager
            pks = list(_ciphertexts(manager.all(), field).values_list("pk", flat=True))
            done = 0
            for start in range(0, len(pks), BATCH):
                batch = manager.select_for_update().filter(pk__in=pks[start : start + BATCH])
                for pk, token in _ciphertexts(batch, field):
                    if not dry_run:
                        fresh = models.Value(crypto.reencrypt(token), models.TextField())
                        manager.filter(pk=pk).update(**{field: fresh})
                    done += 1
            counts[_label(model, field)] = done
        if dry_run:
            transaction.set_rollback(True)
        else:
            audit_record(actor=actor, action="core.secrets_rotated", after={"rotated": counts})
    return counts
