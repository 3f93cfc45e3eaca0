"""Writing to the audit trail; the only code that creates ``AuditEvent`` rows."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, router, transaction
from django.utils import timezone

from governance.audit.chain import event_hash, to_json_value
from governance.audit.models import AuditChainHead, AuditEvent
from governance.core.middleware import current_request_id

SYSTEM_ACTOR = "system"


class AuditOutsideTransactionError(RuntimeError):
    """``audit_record`` was called with no transaction open, so it cannot share one."""


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    actor_repr: str | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction.

    Must run in the transaction of the change it records (so both commit or neither
    does); ``AuditOutsideTransactionError`` otherwise. Writers serialise on the chain
    head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions already run
    one at a time in IMMEDIATE mode), which keeps ``sequence`` gap-free and the chain
    linear. ``actor`` is a user or ``None`` (the system); ``actor_repr`` overrides the
    recorded name, e.g. for the username of a failed sign-in.
    """
    database = router.db_for_write(AuditEvent)
    if not transaction.get_connection(database).in_atomic_block:
        raise AuditOutsideTransactionError(
            f"audit_record({action!r}) must run inside the transaction of the change."
        )
    if actor is not None and not actor.is_authenticated:
        actor = None
    head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)

    if target is not None:
        content_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
        target_type = f"{content_type.app_label}.{content_type.model}"
        target_id, target_repr = str(target.pk), str(target)[:200]
    else:
        content_type, target_type, target_id, target_repr = None, "", "", ""

    event = AuditEvent(
        sequence=head.sequence + 1,
        created_at=timezone.now(),
        actor=actor,
        actor_repr=(actor_repr or (actor.get_username() if actor else SYSTEM_ACTOR))[:200],
        action=action,
        target_content_type=content_type,
        target_id=target_id,
        target_repr=target_repr,
        before=to_json_value(before),
        after=to_json_value(after),
        request_id=current_request_id(),
        prev_hash=head.hash,
    )
    event.hash = event_hash(
        sequence=event.sequence,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_repr=event.actor_repr,
        action=event.action,
        target_type=target_type,
        target_id=event.target_id,
        target_repr=event.target_repr,
        before=event.before,
        after=event.after,
        request_id=event.request_id,
        prev_hash=event.prev_hash,
    )
    event.save(force_insert=True)
    head.sequence, head.hash = event.sequence, event.hash
    head.save(update_fields=["sequence", "hash"])
    return event
